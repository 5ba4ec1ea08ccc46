#!/bin/sh
# Run the CI gate (scan-uploads.sh) on this machine against a local S3 endpoint: moto's server on
# 127.0.0.1, with the bundled benign demo sample uploaded to s3://uploads/ and the demo hash list.
#
#   python -m pip install -e . 'moto[server]'   # libra, and moto for the local endpoint
#   sh examples/ci/run-local.sh
#
# It scans twice and checks the exit codes: the demo prefix (which holds the demo list's photos) must
# fail the gate with 1, a prefix of unrelated files must pass with 0. Nothing is left running; the
# server's own TMPDIR (moto spools uploads there) is a temporary folder removed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/server-tmp"
TMPDIR="$work/server-tmp" "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
server=$!
endpoint="http://127.0.0.1:$port"

export AWS_ACCESS_KEY_ID=local-test AWS_SECRET_ACCESS_KEY=local-test AWS_DEFAULT_REGION=us-east-1
"$python" - "$endpoint" "$root/examples/sample/uploads" <<'PY'
import pathlib, sys, time, urllib.request
import boto3

endpoint, sample = sys.argv[1], pathlib.Path(sys.argv[2])
for _ in range(200):  # wait for the server
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket="uploads")
for path in sorted(p for p in sample.rglob("*") if p.is_file()):
    s3.put_object(Bucket="uploads", Key=f"demo/{path.relative_to(sample)}", Body=path.read_bytes())
for name in ["carol/moon.jpg", "dave/coins.webp", "dave/wall.jpeg", "dave/readme.txt"]:  # unrelated to the list
    s3.put_object(Bucket="uploads", Key=f"clean/{name}", Body=(sample / name).read_bytes())
PY

identity="$work/demo-identity.txt"  # a private copy: the demo key is public, but libra wants keys 0600
cp "$root/hashlists/demo-identity.txt" "$identity"
chmod 600 "$identity"

export LIBRA_LIST="$root/hashlists/demo.libra" LIBRA_IDENTITY="$identity"
export LIBRA_PUBLISHER="$root/hashlists/demo-publisher.key.pub"
export S3_ENDPOINT_URL="$endpoint" S3_PATH_STYLE=1

status=0
LIBRA_TARGET=s3://uploads/demo/ LIBRA_FINDINGS="$work/demo.json" sh "$here/scan-uploads.sh" || status=$?
if [ "$status" -ne 1 ]; then
    echo "run-local: expected the demo prefix to fail the gate with 1, got $status" >&2
    exit 1
fi
status=0
LIBRA_TARGET=s3://uploads/clean/ LIBRA_FINDINGS="$work/clean.json" sh "$here/scan-uploads.sh" || status=$?
if [ "$status" -ne 0 ]; then
    echo "run-local: expected the clean prefix to pass the gate with 0, got $status" >&2
    exit 1
fi
echo "run-local: the gate failed on the demo prefix (1) and passed on the clean one (0), as it should"
