"""``libra report aggregate``: counts a hotline can be given, without a location, account or folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simhost
from scanhelp import cli, make_identity, make_list, records


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[simhost.Host, Path, Path, dict[str, object]]:
    """One simulated host scanned to a JSON and an NDJSON findings file."""
    tmp = tmp_path_factory.mktemp("aggregate")
    host = simhost.build(tmp / "uploads", accounts=12, matched=2, series=4, unrelated=3, seed=5)
    key = tmp / "id.key"
    listed = make_list(tmp, host.listed, make_identity(key))
    base = ["scan", str(host.root), "-l", str(listed), "-i", str(key), "-w", "1", "-q", "--suspected"]
    base += ["--account-pattern", f"{host.root}/{{account}}/"]
    assert cli(*base, "-o", str(tmp / "a.json"))[0] == 1
    assert cli(*base, "-o", str(tmp / "b.ndjson"))[0] == 1
    doc = json.loads((tmp / "a.json").read_text())
    return host, tmp / "a.json", tmp / "b.ndjson", doc


def test_the_aggregate_counts_without_locations_accounts_or_hashes(
    scanned: tuple[simhost.Host, Path, Path, dict[str, object]],
) -> None:
    host, first, second, doc = scanned
    code, out, err = cli("report", "aggregate", str(first), str(second))
    assert code == 0, err
    summary = json.loads(out)
    suspected = records(doc, "suspected")
    assert summary["matched"] == len(host.listed) and summary["suspected"] == len(suspected) > 0  # counted once
    assert summary["by_list"] == {"test list": len(host.listed)}
    assert summary["by_category"] == {"A": len(host.listed)}
    assert summary["by_signal"]["colocation"] == len(suspected) and summary["by_signal"]["exact"] == len(host.listed)
    day = str(doc["started"])[:10]
    assert summary["by_day"] == {day: {"matched": len(host.listed), "suspected": len(suspected)}}
    for secret in [*host.matched_accounts, str(host.root), "IMG_", "album"]:
        assert secret not in out
    for record in suspected:
        assert record["digests"]["md5"] not in out
    assert "suspected_hashes" not in summary


def test_small_counts_are_suppressed_and_hashes_only_when_asked(
    scanned: tuple[simhost.Host, Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    _, first, _, doc = scanned
    target = tmp_path / "aggregate.json"
    code, _, err = cli("report", "aggregate", str(first), "--min-count", "3", "--with-hashes", "-o", str(target))
    assert code == 0, err
    summary = json.loads(target.read_text())
    assert summary["matched"] is None and summary["by_list"] == {} and summary["suppressed"] >= 4  # 2 < 3
    assert summary["suspected"] == len(records(doc, "suspected"))
    shared = {h["sha256"] for h in summary["suspected_hashes"]}
    assert shared == {r["digests"]["sha256"] for r in records(doc, "suspected")}
    assert not shared & {r["digests"]["sha256"] for r in records(doc)}  # matched files' hashes are not shared
    above = len(records(doc, "suspected")) + 1  # a floor above the suspected count hides it, hashes included
    code, _, err = cli("report", "aggregate", str(first), "--min-count", str(above), "--with-hashes", "-o", str(target))
    summary = json.loads(target.read_text())
    assert code == 0 and summary["suspected"] is None and summary["suspected_hashes"] == [], err


def test_bad_findings_files_are_one_sentence(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff not findings")
    code, _, err = cli("report", "aggregate", str(photo))
    assert code == 2 and "is not a libra findings file" in err and "Traceback" not in err
    cut = tmp_path / "cut.json"
    cut.write_text('{\n  "schema": 2,\n  "findings": [')
    code, _, err = cli("report", "aggregate", str(cut))
    assert code == 2 and "is not complete JSON" in err
    code, _, err = cli("report", "aggregate", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read findings file" in err
    code, _, err = cli("report", "aggregate", str(cut), "--min-count", "0")
    assert code == 2 and "--min-count must be at least 1" in err
