"""Suspected files on a simulated host: recall of the series, false suspicion, ranking, and cost.

Run:  python bench/bench_suspected.py [--accounts 300] [--matched 4] [--workers 2]

The host (``tests/simhost.py``): ``--accounts`` accounts of benign pictures (generated scenes and
framings of the sample photos); ``--matched`` of them hold one listed picture (a framing of a sample
photo, put on a real encrypted list with ``libra hash`` + ``libra hashlist build``) beside other
framings of the same scene (crops, shifts, zooms: the series, unlisted, uploaded in the same batch)
and beside unrelated photos (uploaded on other days). Each configuration is one real ``libra scan``
(worker processes), run side by side in this process:

- series suspected: the share of same-series unlisted files flagged ``suspected`` (goal >= 0.8);
- ordinary suspected: the share of ordinary accounts' files flagged (goal <= 1%);
- AUC: inside matched accounts, the probability that a series file scores above an unrelated one
  (goal >= 0.9);
- suspected reported as matches: files with both statuses (goal 0);
- scan time with the context stage (``--suspected``) and without (its cost);
- ``folder,account, no scene windows``: the same scan with the scene windows left out of the hash set
  (the ranking before ``hashers/scene.py``), side by side;
- hashing cost: images/s of the worker function (``hash_ref``, in this process, one core) over every
  file of the host with PDQ alone and with PDQ + scene windows, alternated in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import simhost  # type: ignore[import-not-found]  # noqa: E402  (the tests' simulated host)
from libra_cli import api  # noqa: E402
from libra_cli.hashing import hash_ref  # noqa: E402
from libra_cli.models import HashConfig, MediaRef  # noqa: E402
from scanhelp import cli, make_identity, make_list  # type: ignore[import-not-found]  # noqa: E402

_HASH_CONFIG = api.hash_config


def _without_scene(*args: Any, **kwargs: Any) -> HashConfig:
    config = _HASH_CONFIG(*args, **kwargs)
    return replace(config, perceptual=tuple(p for p in config.perceptual if p != "scene"))


def hashing_rates(host: simhost.Host, rounds: int = 3) -> tuple[float, float]:
    """Images/s of ``hash_ref`` with PDQ alone and with PDQ + scene windows (best of ``rounds``, alternated)."""
    refs = [MediaRef(loc, Path(loc).stat().st_size) for loc in sorted(host.kinds)]
    configs = (
        HashConfig(digests=("md5",), perceptual=("pdq",)),
        HashConfig(digests=("md5",), perceptual=("pdq", "scene")),
    )
    best = [0.0, 0.0]
    for _ in range(rounds):
        for i, config in enumerate(configs):
            started = time.perf_counter()
            for ref in refs:
                hash_ref(ref, config)
            best[i] = max(best[i], len(refs) / (time.perf_counter() - started))
    return best[0], best[1]


def scan(host: simhost.Host, listed: Path, key: Path, workers: int, *extra: str) -> tuple[dict[str, object], float]:
    args = ["scan", str(host.root), "-l", str(listed), "-i", str(key), "-f", "json", "-w", str(workers), "-q"]
    started = time.perf_counter()
    _, out, _ = cli(*args, *extra)
    seconds = time.perf_counter() - started
    return json.loads(out), seconds


def measure(host: simhost.Host, doc: dict[str, object]) -> dict[str, float]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    matched = {r["location"] for r in findings if r["status"] == "match"}
    scores = {r["location"]: r["suspected"]["score"] for r in findings if r["status"] == "suspected"}
    series, ordinary, unrelated = host.of("series"), host.of("ordinary"), host.of("unrelated")
    return {
        "series_suspected": sum(loc in scores for loc in series) / len(series),
        "series_matched": sum(loc in matched for loc in series) / len(series),
        "ordinary_suspected": sum(loc in scores for loc in ordinary) / len(ordinary),
        "auc": simhost.auc([scores.get(x, 0.0) for x in series], [scores.get(x, 0.0) for x in unrelated]),
        "suspected_as_matches": float(len(matched & set(scores))),
        "suspected": float(len(scores)),
        "matched": float(len(matched)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--matched", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        host = simhost.build(tmp / "uploads", accounts=args.accounts, matched=args.matched, seed=args.seed)
        built = time.perf_counter() - started
        key = tmp / "id.key"
        listed = make_list(tmp, host.listed, make_identity(key))
        print(
            f"host: {args.accounts} accounts, {len(host.kinds)} files ({len(host.of('series'))} series, "
            f"{len(host.of('unrelated'))} unrelated in {args.matched} matched accounts, "
            f"{len(host.of('ordinary'))} ordinary), built in {built:.1f} s"
        )
        pattern = f"{host.root}/{{account}}/"
        configs = {
            "off (no --suspected)": [],
            "folder": ["--suspected", "--group-by", "folder"],
            "folder,account, no scene windows": [
                "--suspected",
                "--group-by",
                "folder,account",
                "--account-pattern",
                pattern,
            ],
            "folder,account": ["--suspected", "--group-by", "folder,account", "--account-pattern", pattern],
            "folder,account,batch": [
                "--suspected",
                "--group-by",
                "folder,account,batch",
                "--account-pattern",
                pattern,
            ],
        }
        scan(host, listed, key, args.workers)  # warm caches and workers once
        print(
            "| grouping | series suspected | ordinary suspected | AUC series vs unrelated | "
            "suspected reported as matches | series matched | scan s |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, extra in configs.items():
            with mock.patch.object(api, "hash_config", _without_scene if "no scene" in name else _HASH_CONFIG):
                doc, seconds = scan(host, listed, key, args.workers, *extra)
            m = measure(host, doc)
            print(
                f"| {name} | {m['series_suspected']:.2f} | {m['ordinary_suspected']:.4f} | {m['auc']:.2f} | "
                f"{int(m['suspected_as_matches'])} | {m['series_matched']:.2f} | {seconds:.2f} |"
            )

        plain, scene = hashing_rates(host)
        print()
        print("| hash set (worker, 1 core) | images/s | ms/image |")
        print("|---|---|---|")
        print(f"| md5 + pdq (no --suspected) | {plain:.0f} | {1000 / plain:.2f} |")
        print(f"| md5 + pdq + scene windows (--suspected) | {scene:.0f} | {1000 / scene:.2f} |")
        print(f"scene windows cost {1000 / scene - 1000 / plain:.2f} ms/image ({plain / scene:.2f}x the time)")


if __name__ == "__main__":
    main()
