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
- scan time with the context stage (``--suspected``) and without (its cost).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import simhost  # type: ignore[import-not-found]  # noqa: E402  (the tests' simulated host)
from scanhelp import cli, make_identity, make_list  # type: ignore[import-not-found]  # noqa: E402


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
            doc, seconds = scan(host, listed, key, args.workers, *extra)
            m = measure(host, doc)
            print(
                f"| {name} | {m['series_suspected']:.2f} | {m['ordinary_suspected']:.4f} | {m['auc']:.2f} | "
                f"{int(m['suspected_as_matches'])} | {m['series_matched']:.2f} | {seconds:.2f} |"
            )


if __name__ == "__main__":
    main()
