#!/bin/sh
# Gate an S3 upload prefix with libra: exit 0 when nothing matched and every object was read,
# 1 when something matched a hash list, 2 when libra could not cover everything it was asked to
# (an unreadable object, a missing bucket, bad credentials, a bad list or key).
#
# Settings (environment):
#   LIBRA_TARGET       s3://bucket/prefix/ to scan (required)
#   LIBRA_LIST         hash list file (.libra) (required)
#   LIBRA_IDENTITY     age identity file that decrypts the list (a path, never the key itself)
#   LIBRA_PUBLISHER    publisher key the list must be signed by (optional, recommended)
#   LIBRA_SINCE        only objects modified since, e.g. 2h or 2026-05-01T00:00:00Z (optional)
#   LIBRA_FINDINGS     findings file (default: findings.json); hashes and locations, never media
#   S3_ENDPOINT_URL    endpoint of a non-AWS store or a local one (optional; AWS_ENDPOINT_URL works too)
#   S3_REGION          region (optional)
#   S3_PATH_STYLE      1 for path-style addressing (MinIO, Ceph, a local endpoint)
# Credentials come from boto3's usual chain: environment, AWS_PROFILE, container or instance role.
#
# To try it on this machine against a local S3 endpoint, run examples/ci/run-local.sh.
set -u

: "${LIBRA_TARGET:?set LIBRA_TARGET to the s3://bucket/prefix/ to scan}"
: "${LIBRA_LIST:?set LIBRA_LIST to the hash list to match against}"
findings=${LIBRA_FINDINGS:-findings.json}

set -- "$LIBRA_TARGET" --list "$LIBRA_LIST" --output "$findings" --quiet
[ -n "${LIBRA_IDENTITY:-}" ] && set -- "$@" --identity "$LIBRA_IDENTITY"
[ -n "${LIBRA_PUBLISHER:-}" ] && set -- "$@" --publisher-key "$LIBRA_PUBLISHER"
[ -n "${LIBRA_SINCE:-}" ] && set -- "$@" --since "$LIBRA_SINCE"
[ -n "${S3_ENDPOINT_URL:-}" ] && set -- "$@" --endpoint-url "$S3_ENDPOINT_URL"
[ -n "${S3_REGION:-}" ] && set -- "$@" --region "$S3_REGION"
[ "${S3_PATH_STYLE:-0}" = 1 ] && set -- "$@" --path-style

libra scan "$@"
code=$?
case $code in
0) echo "libra: $LIBRA_TARGET is clean: nothing matched and every object was read" ;;
1) echo "libra: MATCH in $LIBRA_TARGET: see $findings (hashes and locations only); failing the job" >&2 ;;
2) echo "libra: $LIBRA_TARGET was NOT fully covered (see the message above and the errors in $findings); failing the job" >&2 ;;
*) echo "libra: unexpected exit code $code; failing the job" >&2 ;;
esac
exit "$code"
