"""libra's own CPU per image read from an S3 endpoint vs from local disk, and streamed listing latency.

Run:  python bench/bench_s3.py [--images 200] [--rounds 5] [--keys 100000]

It starts moto's S3 server (``tests/s3server.py``) on 127.0.0.1 in its own process with its own TMPDIR,
served through tornado so connections are kept alive as real S3 keeps them (``--no-keep-alive``: through
werkzeug, a new connection per request). It makes ``--images`` benign JPEGs from the photos in
tests/data/photos/ (crops, flips and re-encodes), at the photos' own sizes (~95 KiB), at 1632x1224
(2 MP, as bench_throughput.py) and at 4032x3024 (12 MP, a phone photo; at most 30 of these), writes
them to a temporary folder *and* puts them in a bucket, then measures:

* **CPU per image**: the worker function ``libra_cli.hashing.hash_ref`` with the default hash set (md5,
  sha256, PDQ + 7 dihedral variants) over the local files, and over the S3 objects (one GET each,
  through the registered ``s3`` backend, as scan workers read them). The figure is
  this process's own CPU time (``time.process_time``: user + system, all threads), so the server's CPU
  is excluded. Local and S3 reads alternate image by image (their order swapping) in one process, one
  worker; the ratio of the medians over ``--rounds`` is reported. Goal (issue 10): S3 <= 1.25x local.
* **Streamed listing**: a bucket of ``--keys`` keys (made inside a second server process), walked
  through ``S3Storage.walk``; time to the first listed key vs time to the last, and the client's CPU per
  key. The first page arrives long before the listing ends, so hashing can start at once. moto answers
  each 1,000-key page of a 100,000-key bucket in about 2 s (real S3: ~0.1 s), so this part takes minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from libra_cli.hashing import hash_ref
from libra_cli.models import HashConfig, MediaRef
from libra_cli.storage import WalkOptions, storage_for
from libra_cli.storage.s3 import S3Options, S3Storage, direct_getter_for  # importing it registers the backend

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "data" / "photos"
SERVER = ROOT / "tests" / "s3server.py"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIABENCHLIBRA000001", "AWS_SECRET_ACCESS_KEY": "bench-secret"}


def make_jpegs(count: int, size: tuple[int, int] | None) -> Iterator[tuple[str, bytes]]:
    """``count`` distinct benign JPEGs: the sample photos cropped, flipped, resized to ``size``, re-encoded."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    for i in range(count):
        img = Image.open(photos[i % len(photos)]).convert("RGB")
        step = i // len(photos)
        w, h = img.size
        img = img.crop(((step % 10) * w // 100, (step // 10) * h // 100, w, h))
        if step % 2:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if size is not None:
            img = img.resize(size, Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=85 + step % 10)
        yield f"photo{i:05d}.jpg", buffer.getvalue()


class Server:
    """tests/s3server.py in a subprocess (moto + a bulk-fill route), on a free port, with its own TMPDIR."""

    def __init__(self, workdir: Path, keep_alive: bool) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        tmp = workdir / "server-tmp"
        tmp.mkdir(parents=True)
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(port), *(["--keep-alive"] if keep_alive else [])],
            env={**os.environ, "TMPDIR": str(tmp)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)

    def fill(self, bucket: str, count: int) -> None:
        query = urllib.parse.urlencode({"bucket": bucket, "prefix": "k/", "count": count})
        request = urllib.request.Request(f"{self.url}/_libra/fill?{query}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=600):
            pass

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def cpu_per_image(refs: list[MediaRef], config: HashConfig) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per image of ``hash_ref`` over ``refs`` in this process."""
    cpu, wall = time.process_time(), time.perf_counter()
    for ref in refs:
        result = hash_ref(ref, config)
        assert result.error is None and result.perceptual, result.error
    return (time.process_time() - cpu) / len(refs), (time.perf_counter() - wall) / len(refs)


def bench_images(server: Server, workdir: Path, count: int, rounds: int, size: tuple[int, int] | None) -> None:
    label = "photos at their own sizes" if size is None else f"{size[0]}x{size[1]} JPEGs"
    bucket = "native" if size is None else f"px{size[0]}"
    admin = _admin(server.url)
    admin.create_bucket(Bucket=bucket)
    local_dir = workdir / bucket
    local_dir.mkdir()
    total = 0
    for name, data in make_jpegs(count, size):
        (local_dir / name).write_bytes(data)
        admin.put_object(Bucket=bucket, Key=f"up/{name}", Body=data)
        total += len(data)
    local = [i for i in storage_for(str(local_dir)).walk(str(local_dir), WalkOptions()) if isinstance(i, MediaRef)]
    settings = S3Options(endpoint_url=server.url, path_style=True)
    remote = [i for i in S3Storage(settings).walk(f"s3://{bucket}/up/") if isinstance(i, MediaRef)]
    assert len(local) == len(remote) == count
    local_config = HashConfig()
    s3_config = HashConfig(storage=settings.to_storage_options())  # what the scan gives its workers
    # The same, with every GET through boto3 (``s3.direct_get: false``): the figure before s3direct.py.
    boto_config = HashConfig(storage=replace(settings, direct_get=False).to_storage_options())
    cpu_per_image(local[:10], local_config)  # warm up: imports, decoder tables, the S3 client
    cpu_per_image(remote[:10], s3_config)
    cpu_per_image(remote[:10], boto_config)
    runs: dict[str, list[tuple[float, float]]] = {"local": [], "s3": [], "boto3": []}
    for round_ in range(rounds):  # image by image, in turn (order rotating): a busy machine slows all alike
        spent = {"local": [0.0, 0.0], "s3": [0.0, 0.0], "boto3": [0.0, 0.0]}
        for i, (here, there) in enumerate(zip(local, remote, strict=True)):
            order = [("local", here, local_config), ("s3", there, s3_config), ("boto3", there, boto_config)]
            shift = (i + round_) % 3
            for name, ref, config in order[shift:] + order[:shift]:
                cpu, wall = cpu_per_image([ref], config)
                spent[name][0] += cpu
                spent[name][1] += wall
        for name, (cpu, wall) in spent.items():
            runs[name].append((cpu / count, wall / count))
    local_cpu = statistics.median(c for c, _ in runs["local"])
    s3_cpu = statistics.median(c for c, _ in runs["s3"])
    local_wall = statistics.median(w for _, w in runs["local"])
    s3_wall = statistics.median(w for _, w in runs["s3"])
    print(f"{label}: {count} images, {total / count / 1024:.0f} KiB on average, {rounds} interleaved rounds")
    if direct_getter_for(settings) is None:  # a proxy in the environment: the direct path steps aside
        print("  NOTE: direct GETs are off here (a proxy in the environment?): both S3 rows are boto3")
    print(f"  local disk : {local_cpu * 1000:7.2f} ms CPU/image  ({local_wall * 1000:7.2f} ms wall)")
    print(f"  S3 (moto)  : {s3_cpu * 1000:7.2f} ms CPU/image  ({s3_wall * 1000:7.2f} ms wall, server included)")
    boto_cpu = statistics.median(c for c, _ in runs["boto3"])
    print(f"  S3, boto3 only (direct_get off): {boto_cpu * 1000:7.2f} ms CPU/image")
    print(f"  ratio S3/local CPU: {s3_cpu / local_cpu:.3f}x   (goal <= 1.25x); boto3 only: {boto_cpu / local_cpu:.3f}x")


def bench_listing(server: Server, keys: int) -> None:
    _admin(server.url).create_bucket(Bucket="listing")
    started = time.perf_counter()
    server.fill("listing", keys)
    print(f"listing: {keys} keys (made in the server in {time.perf_counter() - started:.1f} s)")
    storage = S3Storage(S3Options(endpoint_url=server.url, path_style=True))
    assert storage.client is not None  # the client is built once per process: not part of the listing
    cpu, started = time.process_time(), time.perf_counter()
    first = None
    count = 0
    for item in storage.walk("s3://listing"):
        if first is None:
            first = time.perf_counter() - started
        count += isinstance(item, MediaRef)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    assert count == keys and first is not None, count
    print(f"  first key after {first:.2f} s, whole listing {total:.1f} s: first/total = {first / total:.4f}")
    print(f"  client CPU {cpu / keys * 1e6:.0f} us per key (the rest of the wall time is moto's listing)")


def _admin(url: str) -> Any:
    import boto3  # type: ignore[import-untyped,unused-ignore]

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200, help="images per size (0: skip)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=100_000, help="keys in the listing bucket (0: skip)")
    parser.add_argument(
        "--no-keep-alive",
        action="store_true",
        help="serve with werkzeug, which closes the connection after each response (default: tornado, keep-alive)",
    )
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    with tempfile.TemporaryDirectory(prefix="libra-bench-s3-") as tmp:
        if args.images:
            keep_alive = not args.no_keep_alive and importlib.util.find_spec("tornado") is not None
            server = Server(Path(tmp) / "images", keep_alive=keep_alive)
            how = "tornado (keep-alive)" if keep_alive else "werkzeug (a new connection per request)"
            print(f"server: moto behind {how}")
            try:
                bench_images(server, Path(tmp), args.images, args.rounds, None)
                bench_images(server, Path(tmp), args.images, args.rounds, (1632, 1224))
                bench_images(server, Path(tmp), min(args.images, 30), args.rounds, (4032, 3024))  # a phone photo
            finally:
                server.stop()
        if args.keys:
            server = Server(Path(tmp) / "listing", keep_alive=False)
            try:
                bench_listing(server, args.keys)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
