"""Suspected files (issue 15): unmatched media beside a confirmed match, scored and explained, never a match."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import simhost
from libra_cli.context import AccountPattern, ContextOptions, ContextStage, groups_of
from libra_cli.errors import ConfigError, ExitCode
from libra_cli.models import Entry, HashResult, HashValues, Match, MediaRef
from libra_cli.report import Report
from libra_cli.settings import ScanSettings
from scanhelp import cli, make_identity, make_list, records


def test_account_patterns_name_one_segment_locally_and_in_buckets() -> None:
    local = AccountPattern.parse("/srv/uploads/{account}/")
    assert local.account("/srv/uploads/alice/2024/a.jpg") == "alice"
    assert local.account("/srv/uploads/a.jpg") is None  # a file directly in uploads belongs to no account
    assert local.account("/srv/other/alice/a.jpg") is None
    s3 = AccountPattern.parse("s3://bucket/*/{account}")
    assert s3.account("s3://bucket/eu/bob/x.png") == "bob"
    assert s3.account("s3://bucket/eu/bobby") is None  # the segment must be whole
    assert AccountPattern.parse("/srv/u.d/{account}/").account("/srv/uxd/eve/a.jpg") is None  # literal dot
    for bad in ("/srv/uploads/", "/srv/{account}/{account}/"):
        with pytest.raises(ConfigError, match="exactly once"):
            AccountPattern.parse(bad)


def test_groups_are_folder_account_and_archive() -> None:
    pattern = (AccountPattern.parse("/srv/{account}/"),)
    by = frozenset({"folder", "account"})
    assert groups_of("/srv/alice/x/a.jpg", by, pattern) == (("folder", "/srv/alice/x"), ("account", "alice"))
    assert groups_of("/srv/alice/a!b.jpg", by, ()) == (("folder", "/srv/alice"),)  # '!' in a name is a name
    assert groups_of("/srv/alice/a.zip!b.jpg", frozenset({"folder"}), (), archive="/srv/alice/a.zip") == (
        ("archive", "/srv/alice/a.zip"),
        ("folder", "/srv/alice"),
    )


def _pdq(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8).tobytes()


def _near(value: bytes, flips: int) -> bytes:
    bits = np.unpackbits(np.frombuffer(value, dtype=np.uint8)).copy()
    bits[:flips] ^= 1
    return np.packbits(bits).tobytes()


def _result(uri: str, pdq: bytes | None, mtime: int = 0, media: str | None = "image/jpeg") -> HashResult:
    values = () if pdq is None else (
        HashValues("pdq", np.frombuffer(pdq, dtype=np.uint8).reshape(1, 32), ("original",), np.array([90], np.uint8)),
    )  # fmt: skip
    return HashResult(MediaRef(uri, 10, mtime_ns=mtime * 10**9), media, {"md5": b"\x01" * 16}, values)


MATCH = [Match("exact", "md5", 0, "hotline", Entry("md5", "00" * 16, id="H-1"))]


def test_only_unmatched_media_sharing_a_group_with_a_match_are_suspected_and_near_ones_rank_first() -> None:
    stage = ContextStage(ContextOptions(account_patterns=(AccountPattern.parse("/srv/{account}/"),)))
    listed = _pdq(1)
    stage.see(_result("/srv/alice/a/match.jpg", listed), MATCH)
    stage.see(_result("/srv/alice/a/near.jpg", _near(listed, 50)), [])
    stage.see(_result("/srv/alice/b/far.jpg", _pdq(2)), [])
    stage.see(_result("/srv/alice/b/notes.txt", None, media=None), [])  # not media: never suspected
    stage.see(_result("/srv/bob/a/other.jpg", _near(listed, 10)), [])  # another account: never suspected
    gone = HashResult(MediaRef("/srv/alice/a/gone.jpg", 1), "image/jpeg", fatal=True, error="gone")
    stage.see(gone, [])
    done = stage.finish()
    where = [f.ref.uri for f in done.findings]
    assert where == ["/srv/alice/a/near.jpg", "/srv/alice/b/far.jpg"]
    near, far = (f.suspected or {} for f in done.findings)
    assert float(str(near["score"])) > float(str(far["score"])) and not done.findings[0].matches
    assert near["pdq_distance"] == 50 and near["cluster"] == "account:alice"
    assert any("same folder as 1 confirmed match" in str(r) for r in near["reasons"])  # type: ignore[union-attr]
    assert any("entry H-1" in str(r) for r in near["reasons"])  # type: ignore[union-attr]
    assert [(c.kind, c.key, c.confirmed, c.suspected) for c in done.clusters] == [("account", "alice", 1, 2)]
    assert "account alice: 1 confirmed, 2 suspected" in done.clusters[0].line()


def test_nothing_is_suspected_without_a_match_and_batches_are_opt_in() -> None:
    quiet = ContextStage()
    quiet.see(_result("/srv/a/x.jpg", _pdq(1)), [])
    assert quiet.finish().findings == []
    stage = ContextStage(ContextOptions(group_by=("batch",), batch_window=60))
    stage.see(_result("/up/1.jpg", _pdq(1), mtime=1000), MATCH)
    stage.see(_result("/elsewhere/2.jpg", _pdq(2), mtime=1050), [])  # same batch, another folder
    stage.see(_result("/up/3.jpg", _pdq(3), mtime=5000), [])  # same folder, another day: not grouped by folder
    done = stage.finish()
    assert [f.ref.uri for f in done.findings] == ["/elsewhere/2.jpg"]
    assert done.clusters[0].kind == "batch" and done.clusters[0].key.startswith("1970-01-01T00:15:40")


def test_memory_bound_keeps_files_of_groups_that_already_hold_a_match() -> None:
    stage = ContextStage(ContextOptions(max_files=2))
    stage.see(_result("/a/m.jpg", _pdq(0)), MATCH)
    for i in range(4):
        stage.see(_result(f"/b/{i}.jpg", _pdq(i + 1)), [])
    stage.see(_result("/a/late.jpg", _pdq(9)), [])
    assert [f.ref.uri for f in stage.finish().findings] == ["/a/late.jpg"]


def test_suspected_files_change_the_exit_code_only_when_asked() -> None:
    assert Report(files=3, suspected=2).exit_code == ExitCode.CLEAN
    assert Report(files=3, suspected=2, fail_on_suspected=True).exit_code == ExitCode.FOUND
    assert Report(files=3, fail_on_suspected=True).exit_code == ExitCode.CLEAN
    flags = {"suspected": True, "fail_on_suspected": True, "group_by": "batch,folder"}
    settings = ScanSettings.resolve(flags, {"batch_window": 30})
    assert settings.fail_on_suspected and settings.group_by == ("batch", "folder") and settings.batch_window == 30
    with pytest.raises(ConfigError, match="'prefix' is not a grouping"):
        ScanSettings.resolve({"suspected": True, "group_by": "prefix"})
    with pytest.raises(ConfigError, match="exactly once"):
        ScanSettings.resolve({"suspected": True}, {"account_pattern": ["/srv/"]})
    # without --suspected they would shape nothing: refused rather than silently ignored
    for key, value in (("group_by", "folder"), ("fail_on_suspected", True), ("batch_window", 30)):
        with pytest.raises(ConfigError, match="needs --suspected"):
            ScanSettings.resolve({key: value})


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[simhost.Host, Path, Path]:
    tmp = tmp_path_factory.mktemp("simhost")
    built = simhost.build(tmp / "uploads", accounts=40, matched=3, series=6, unrelated=6, seed=3)
    key = tmp / "id.key"
    listed = make_list(tmp, built.listed, make_identity(key))
    return built, listed, key


def _scan(
    host: tuple[simhost.Host, Path, Path], *extra: str, no_context: bool = False
) -> tuple[int, dict[str, object], str]:
    built, listed, key = host
    args = ["scan", str(built.root), "-l", str(listed), "-i", str(key), "-f", "json", "-w", "1"]
    code, out, err = cli(*args, *([] if no_context else ["--suspected"]), *extra)
    return code, json.loads(out), err


def test_on_a_simulated_host_the_series_beside_a_match_is_suspected_and_ordinary_accounts_are_not(
    host: tuple[simhost.Host, Path, Path],
) -> None:
    built = host[0]
    code, doc, _ = _scan(host, "--account-pattern", f"{built.root}/{{account}}/")
    assert code == 1
    matched = {r["location"] for r in records(doc)}
    suspected = {r["location"]: r for r in records(doc, "suspected")}
    assert matched == {str(p) for p in built.listed}  # only the listed pictures match
    assert not matched & set(suspected)  # a suspected file is never reported as a match
    assert all(r["matches"] == [] and 0 <= r["suspected"]["score"] <= 1 for r in suspected.values())
    series = built.of("series")
    assert sum(loc in suspected for loc in series) / len(series) >= 0.8
    ordinary = built.of("ordinary")
    assert sum(loc in suspected for loc in ordinary) <= 0.01 * len(ordinary)
    summary = doc["summary"]
    assert isinstance(summary, dict) and summary["matched"] == 3 and summary["suspected"] == len(suspected)
    clusters = {c["key"]: c for c in summary["clusters"]}
    assert set(clusters) == set(built.matched_accounts)
    assert all(c["kind"] == "account" and c["confirmed"] == 1 for c in clusters.values())
    assert sum(c["suspected"] for c in clusters.values()) == len(suspected)


def test_with_upload_batches_the_series_ranks_above_unrelated_files(host: tuple[simhost.Host, Path, Path]) -> None:
    built = host[0]
    pattern = f"{built.root}/{{account}}/"
    _, doc, _ = _scan(host, "--account-pattern", pattern, "--group-by", "folder,account,batch")
    scores = {r["location"]: r["suspected"]["score"] for r in records(doc, "suspected")}
    series = [scores.get(x, 0.0) for x in built.of("series")]
    unrelated = [scores.get(x, 0.0) for x in built.of("unrelated")]
    assert simhost.auc(series, unrelated) >= 0.9
    assert sum(x in scores for x in built.of("ordinary")) <= 0.01 * len(built.of("ordinary"))


def test_the_stage_is_opt_in(host: tuple[simhost.Host, Path, Path]) -> None:
    assert not ScanSettings.resolve({}).suspected
    code, doc, _ = _scan(host, no_context=True)
    assert code == 1 and records(doc, "suspected") == [] and "clusters" not in doc["summary"]  # type: ignore[operator]


def test_csv_and_ndjson_carry_suspected_rows(host: tuple[simhost.Host, Path, Path], tmp_path: Path) -> None:
    built, listed, key = host
    base = ["scan", str(built.root), "-l", str(listed), "-i", str(key), "-w", "1", "--suspected"]
    code, out, _ = cli(*base, "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1 and len({r["location"] for r in rows if r["status"] == "match"}) == 3
    suspected = [r for r in rows if r["status"] == "suspected"]
    assert suspected and all(0 < float(r["suspected_score"]) <= 1 and r["suspected_reasons"] for r in suspected)
    code, out, _ = cli(*base, "-f", "ndjson")
    lines = [json.loads(line) for line in out.splitlines()]
    found = [x for x in lines if x["type"] == "finding" and x["status"] == "suspected"]
    assert found and all(x["suspected"]["reasons"] for x in found)
    assert lines[-1]["type"] == "summary" and lines[-1]["summary"]["suspected"] == len(found)


def test_the_terminal_summary_shows_clusters_not_lines() -> None:
    from libra_cli.cli.terminal import CLUSTER_LINES, TerminalSink

    shown: list[object] = []
    view = TerminalSink(shown.append)
    clusters = [
        {"kind": "account", "key": f"u{i}\x1b[2J", "confirmed": 1, "suspected": 3, "top_score": 0.5}
        for i in range(CLUSTER_LINES + 2)
    ]
    report = Report(files=40, matched=12, suspected=36, clusters=clusters)
    lines = view.totals(report)
    assert any(line.startswith("Suspected:     36 files") for line in lines)
    assert "  account u0\\x1b[2J: 1 confirmed, 3 suspected (top score 0.5)" in lines  # a hostile key is escaped
    assert lines.count("  … and 2 more clusters") == 1 and not shown
    assert not any(line.startswith("Suspected") for line in view.totals(Report(files=1)))
