"""The pipeline of stages: findings stream, memory stays flat, plug-ins run end to end, failures count."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import testplugins  # noqa: F401  (registers the test:// backend and the meanhash signal type)
from libra_cli.api import hash_config, prepare, run
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.models import Entry, HashResult, Match
from libra_cli.settings import ScanSettings
from libra_cli.sinks import Sink
from scanhelp import cli, make_identity, records

TESTS = Path(__file__).parent


class Recorder(Sink):
    """Remembers when each outcome reached the sinks."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        self.seen[("match:" if matches else "clean:") + result.ref.uri.rsplit("/", 1)[1]] = time.monotonic()


def md5_list(*contents: bytes) -> HashList:
    import hashlib

    return HashList.from_entries(ListInfo("t"), [Entry("md5", hashlib.md5(c).hexdigest(), id="x") for c in contents])


def test_findings_reach_the_sinks_before_the_last_file_is_hashed() -> None:
    """The first finding is written while hashing goes on (no collect-then-write): a file that takes 2 s
    is still being hashed when the finding reaches the sinks."""
    names = ["hit"] + [f"n{i}" for i in range(100)] + ["slow-last"]
    settings = ScanSettings.resolve({"targets": ["test://files/" + ",".join(names)], "workers": 2})
    recorder = Recorder()
    report = run(prepare(settings, [md5_list(b"hit".ljust(8))]), [recorder])
    assert report.matched == 1 and report.files == len(names)
    assert recorder.seen["clean:slow-last"] - recorder.seen["match:hit"] > 1.0


def test_an_unreadable_file_is_exit_two_even_as_root() -> None:
    """Failures injected through a storage backend, not file permissions (root reads everything)."""
    settings = ScanSettings.resolve({"targets": ["test://files/unreadable,fine"], "workers": 1})
    report = run(prepare(settings, [md5_list(b"nothing")]), [Sink()])
    assert report.fatal_errors == 1 and int(report.exit_code) == 2 and not report.complete


def test_a_match_wins_over_incomplete_coverage() -> None:
    settings = ScanSettings.resolve({"targets": ["test://files/unreadable,hit"], "workers": 1})
    report = run(prepare(settings, [md5_list(b"hit".ljust(8))]), [Sink()])
    assert int(report.exit_code) == 1 and report.matched == 1 and report.complete is False


def test_a_third_party_backend_and_signal_type_run_end_to_end(tmp_path: Path, photos: Path) -> None:
    """Registered from a test module with one call each, they work in worker processes through `libra scan`."""
    identity = tmp_path / "id.txt"
    recipient = make_identity(identity)
    code, out, err = cli("hash", str(photos / "moon.jpg"), "--format", "json", "--perceptual", "meanhash", "-w", "1")
    assert code == 0, err
    (record,) = json.loads(out)
    (value,) = [p["value"] for p in record["perceptual"] if p["hash_type"] == "meanhash"]
    source = tmp_path / "src.csv"
    source.write_text(f"hash_type,hash,id,label,category,allow\nmeanhash,{value},moon,,,0\n")
    hashlist = tmp_path / "mean.libra"
    assert cli("hashlist", "build", str(source), "-o", str(hashlist), "-r", recipient)[0] == 0
    target = "test://files/photo-moon.jpg,photo-coffee.jpg"
    code, out, err = cli("scan", target, "-l", str(hashlist), "-i", str(identity), "-w", "2", "-q")
    assert code == 1, err
    (found,) = records(json.loads(out))
    assert found["location"] == "test://files/photo-moon.jpg"
    assert [(m["hash_type"], m["method"]) for m in found["matches"]] == [("meanhash", "perceptual")]
    assert "testplugins" in hash_config(ScanSettings.resolve({}), None).plugins  # what the workers import


def _rss_after_scan(count: int, tmp_path: Path) -> int:
    """Peak RSS (KiB) of a fresh process that scans ``count`` generated references with 2 workers."""
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(TESTS)!r})
        import testplugins
        from libra_cli.api import prepare, run
        from libra_cli.hashlist.table import HashList, ListInfo
        from libra_cli.models import Entry
        from libra_cli.settings import ScanSettings
        from libra_cli.sinks import Sink
        settings = ScanSettings.resolve({{"targets": ["test://gen/{count}"], "workers": 2}})
        lists = [HashList.from_entries(ListInfo("t"), [Entry("md5", "ab" * 16)])]
        report = run(prepare(settings, lists), [Sink()])
        assert report.files == {count}, report
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_the_parents_memory_stays_flat_from_ten_to_a_hundred_thousand_files(tmp_path: Path) -> None:
    small, large = _rss_after_scan(10_000, tmp_path), _rss_after_scan(100_000, tmp_path)
    assert large - small < 20 * 1024, f"parent RSS grew {(large - small) / 1024:.1f} MiB from 10k to 100k files"
