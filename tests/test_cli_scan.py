"""``libra scan`` end to end: real photos, real encrypted lists, real worker processes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from scanhelp import cli, make_identity, make_list, records

LISTED = ("chelsea.jpg", "coffee.jpg", "rocket.jpg")
UNLISTED = ("moon.jpg", "coins.jpg", "brick.jpg")


@pytest.fixture(scope="module")
def keyed_list(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path]:
    """(identity file, encrypted list of three benign photos)."""
    tmp = tmp_path_factory.mktemp("list")
    photos = Path(__file__).parent / "data" / "photos"
    identity = tmp / "identity.txt"
    recipient = make_identity(identity)
    return identity, make_list(tmp, [photos / n for n in LISTED], recipient)


@pytest.fixture
def tree(tmp_path: Path, photos: Path) -> Path:
    """Uploads: an exact copy, a renamed copy, a resized and a mirrored variant, unrelated files."""
    root = tmp_path / "uploads"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(photos / "chelsea.jpg", root / "a" / "cat.jpg")
    shutil.copy(photos / "coffee.jpg", root / "a" / "b" / "notes.txt")
    rocket = Image.open(photos / "rocket.jpg")
    rocket.resize((rocket.width // 2, rocket.height // 2)).save(root / "small.jpg", quality=60)
    ImageOps.mirror(Image.open(photos / "chelsea.jpg")).save(root / "a" / "mirror.png")
    for name in UNLISTED:
        shutil.copy(photos / name, root / name)
    (root / "readme.md").write_text("hello")
    (root / "broken.jpg").write_bytes((photos / "grass.jpg").read_bytes()[:3000])
    return root


def scan_json(tree: Path, keyed_list: tuple[Path, Path], *extra: str) -> tuple[int, dict[str, object], str]:
    identity, hashlist = keyed_list
    code, out, err = cli("scan", str(tree), "--list", str(hashlist), "--identity", str(identity), "-q", *extra)
    return code, json.loads(out), err


def by_name(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    return {os.path.basename(f["location"]): f for f in records(doc)}  # type: ignore[attr-defined,index]


def test_scan_finds_copies_and_variants(tree: Path, keyed_list: tuple[Path, Path]) -> None:
    code, doc, _ = scan_json(tree, keyed_list, "--workers", "1")
    assert code == 1
    found = by_name(doc)
    assert set(found) == {"cat.jpg", "notes.txt", "small.jpg", "mirror.png"}
    methods = {name: {m["method"] for m in f["matches"]} for name, f in found.items()}  # type: ignore[attr-defined]
    assert "exact" in methods["cat.jpg"] and "exact" in methods["notes.txt"]  # renamed: still found
    assert methods["small.jpg"] == {"perceptual"} and methods["mirror.png"] == {"perceptual"}
    mirror = [m for m in found["mirror.png"]["matches"] if m["hash_type"] == "pdq"]  # type: ignore[index]
    assert mirror and all(m["distance"] <= 31 for m in mirror)
    assert all(m["entry"]["label"] == "known" for f in found.values() for m in f["matches"])  # type: ignore[attr-defined]
    assert found["notes.txt"]["media_type"] == "image/jpeg"
    summary = {k: v for k, v in doc["summary"].items() if k != "bytes"}  # type: ignore[attr-defined]
    assert summary == {"files": 9, "media": 8, "matched": 4, "suspected": 0, "skipped": 0, "filtered": {},
                       "errors": 1, "not_covered": 0}  # fmt: skip
    (error,) = records(doc, "error", "warning")  # type: ignore[arg-type]
    assert error["location"].endswith("broken.jpg") and error["status"] == "warning"
    assert doc["complete"] is True
    assert doc["lists"][0]["name"] == "test list" and len(doc["lists"][0]["sha256"]) == 64  # type: ignore[index]


def test_two_workers_find_the_same(tree: Path, keyed_list: tuple[Path, Path]) -> None:
    _, one, _ = scan_json(tree, keyed_list, "--workers", "1")
    _, two, _ = scan_json(tree, keyed_list, "--workers", "2")
    assert by_name(one).keys() == by_name(two).keys()
    assert one["summary"] == two["summary"]


def test_thresholds_are_applied(tree: Path, keyed_list: tuple[Path, Path]) -> None:
    _, doc, _ = scan_json(tree, keyed_list, "--pdq-threshold", "0", "--threshold", "phash=0", "--threshold", "dhash=0")
    for finding in records(doc):  # type: ignore[arg-type]  # type: ignore[attr-defined]
        assert all(m["distance"] == 0 for m in finding["matches"])


def test_clean_tree_exits_zero(tmp_path: Path, photos: Path, keyed_list: tuple[Path, Path]) -> None:
    for name in UNLISTED:
        shutil.copy(photos / name, tmp_path / name)
    code, doc, _ = scan_json(tmp_path, keyed_list)
    assert code == 0 and records(doc) == [] and doc["summary"]["files"] == 3  # type: ignore[index]


def test_exclude_and_size_limit(tree: Path, keyed_list: tuple[Path, Path]) -> None:
    _, doc, _ = scan_json(tree, keyed_list, "--exclude", "a", "--max-file-size", "20K")
    found = by_name(doc)
    assert "cat.jpg" not in found and "mirror.png" not in found  # excluded folder
    assert doc["summary"]["skipped"] > 0  # type: ignore[index]


def test_unreadable_location_exits_two(tmp_path: Path, photos: Path, keyed_list: tuple[Path, Path]) -> None:
    shutil.copy(photos / "moon.jpg", tmp_path / "moon.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")
    code, doc, _ = scan_json(tmp_path, keyed_list, "--follow-symlinks")
    assert code == 2
    (error,) = records(doc, "error", "warning")  # type: ignore[arg-type]
    assert error["location"].endswith("dangling.jpg") and error["status"] == "error"
    assert doc["complete"] is False


@pytest.mark.parametrize(("suffix", "fmt"), [(".csv", "csv"), (".ndjson", "ndjson"), (".json", "json")])
def test_output_file_format_from_suffix(tree: Path, keyed_list: tuple[Path, Path], suffix: str, fmt: str) -> None:
    identity, hashlist = keyed_list
    out = tree.parent / f"findings{suffix}"
    code, stdout, _ = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-q", "-o", str(out))
    assert code == 1 and stdout == ""
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {os.path.basename(r["location"]) for r in rows if r["status"] == "match"} >= {"cat.jpg"}
    elif fmt == "ndjson":
        kinds = [json.loads(line)["type"] for line in text.splitlines()]
        assert kinds[0] == "scan" and kinds[-1] == "summary" and kinds.count("finding") == 4
    else:
        assert len(records(json.loads(text))) == 4
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, "uploads"])  # no temp left


def test_identity_from_environment(tree: Path, keyed_list: tuple[Path, Path]) -> None:
    identity, hashlist = keyed_list
    code, out, _ = cli("scan", str(tree), "-l", str(hashlist), "-q", env={"LIBRA_IDENTITY": str(identity)})
    assert code == 1 and json.loads(out)["summary"]["matched"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "missing.libra"], "missing.libra"),
        (["--workers", "0", "--max-file-size", "huge"], "is not a size"),
        (["--format", "xml"], "'xml' is not a findings format"),
        (["--threshold", "phash=99"], "99 is not a valid phash threshold"),
        (["--threshold", "phash"], "must look like TYPE=N"),
        ([], "no hash list given"),
    ],
)
def test_user_errors_are_one_sentence(tree: Path, keyed_list: tuple[Path, Path], args: list[str], message: str) -> None:
    identity, _ = keyed_list
    extra = args if args[:1] == ["--list"] or not args else ["--list", str(keyed_list[1]), *args]
    code, out, err = cli("scan", str(tree), "-i", str(identity), *extra)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    sentences = [line for line in err.strip().splitlines() if " libra WARNING " not in line]  # log lines aside
    assert len(sentences) == 1, err


def test_wrong_key_is_refused(tree: Path, keyed_list: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    make_identity(other)
    code, out, err = cli("scan", str(tree), "-l", str(keyed_list[1]), "-i", str(other), "-q")
    assert code == 2 and out == "" and "Traceback" not in err and err.startswith("libra: ")


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_never_writes_media_anywhere(tree: Path, keyed_list: tuple[Path, Path], tmp_path: Path) -> None:
    """A real process with TMPDIR pointed at an empty folder: it stays empty, the tree is unchanged."""
    identity, hashlist = keyed_list
    before = tree_state(tree)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "TMP": str(tmpdir), "TEMP": str(tmpdir)}
    cmd = [sys.executable, "-m", "libra_cli", "scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-q"]
    proc = subprocess.run([*cmd, "--workers", "2"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert len(records(json.loads(proc.stdout))) == 4
    assert list(tmpdir.iterdir()) == []
    assert tree_state(tree) == before
    assert sorted(p.name for p in tree.parent.iterdir()) == sorted(["uploads", "tmpdir"])


def test_real_process_user_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "libra_cli", "scan", str(tmp_path), "--list", str(tmp_path / "nope.libra")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("libra: ")


def test_config_file_supplies_defaults(tree: Path, keyed_list: tuple[Path, Path], tmp_path: Path) -> None:
    identity, hashlist = keyed_list
    out = tmp_path / "from-config.ndjson"
    config = tmp_path / "libra.yaml"
    config.write_text(
        f"scan:\n  lists: [{hashlist}]\n  identity: {identity}\n  output: {out}\n  quiet: true\n"
        "  exclude: ['mirror.png']\n  workers: 1\n"
    )
    code, stdout, err = cli("scan", str(tree), "--config", str(config))
    assert code == 1 and stdout == "" and err == ""  # quiet from the file: nothing on stderr
    kinds = [json.loads(line)["type"] for line in out.read_text().splitlines()]
    assert kinds.count("finding") == 3  # mirror.png excluded by the file's pattern
    code, _, err = cli("scan", str(tree), "--config", str(config), "--format", "json", "-o", "-")
    assert code == 1  # the command line wins over the file's output


def test_bad_config_file_is_one_sentence(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "libra.yaml"
    config.write_text("scan:\n  workers: lots\n")
    code, out, err = cli("scan", str(tree), "--config", str(config))
    assert code == 2 and out == ""
    assert err.strip() == f"libra: config file '{config}': 'workers' must be of type int, not 'lots'"


def test_sigterm_stops_cleanly_without_a_half_written_file(
    tmp_path: Path, photos: Path, keyed_list: tuple[Path, Path]
) -> None:
    """systemd stops a unit with SIGTERM: the scan ends with code 2, workers stop, no temp file is left, and
    the findings so far are written, marked incomplete (``tests/test_state_interrupt.py``)."""
    import signal
    import time

    identity, hashlist = keyed_list
    tree = tmp_path / "big"
    tree.mkdir()
    data = (photos / "coffee.jpg").read_bytes()
    for i in range(3000):
        (tree / f"{i:05d}.jpg").write_bytes(data[:-2] + i.to_bytes(2, "big"))  # distinct files, same picture
    out = tmp_path / "findings.json"
    cmd = [sys.executable, "-m", "libra_cli", "scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-q"]
    cmd += ["-o", str(out), "-w", "2", "--log-level", "info"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    while "scan started" not in seen:  # the scan is under way: lists loaded, output open
        line = proc.stderr.readline()
        assert line, "the scan ended or never started"
        seen += line
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "findings.json"]  # no .part file
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["summary"]["files"] < 3000


def test_unsupported_entries_are_announced(tmp_path: Path, photos: Path) -> None:
    identity = tmp_path / "id.txt"
    recipient = make_identity(identity)
    source = tmp_path / "src.csv"
    source.write_text("hash_type,hash,id,label,category,allow\n" + "photodna," + "QUJD" * 36 + ",p1,,,0\n")
    hashlist = tmp_path / "p.libra"
    code, _, err = cli("hashlist", "build", str(source), "-o", str(hashlist), "-r", recipient)
    assert code == 0, err
    shutil.copy(photos / "moon.jpg", tmp_path / "moon.jpg")
    code, out, err = cli("scan", str(tmp_path / "moon.jpg"), "-l", str(hashlist), "-i", str(identity), "-w", "1")
    assert code == 0 and records(json.loads(out)) == []
    assert "entries libra cannot compute (1 photodna)" in err


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigkill_leaves_no_worker_behind(tmp_path: Path, photos: Path, keyed_list: tuple[Path, Path]) -> None:
    """The OOM killer or systemd's stop timeout SIGKILLs the main process: its workers must go too."""
    import signal
    import time

    identity, hashlist = keyed_list
    tree = tmp_path / "big"
    tree.mkdir()
    data = (photos / "coffee.jpg").read_bytes()
    for i in range(4000):
        (tree / f"{i:05d}.jpg").write_bytes(data[:-2] + i.to_bytes(2, "big"))
    cmd = [sys.executable, "-m", "libra_cli", "scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-q"]
    proc = subprocess.Popen([*cmd, "-o", str(tmp_path / "f.json"), "-w", "2"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    descendants: set[int] = set()
    while len(descendants) < 4:  # resource tracker, forkserver and two workers
        assert proc.poll() is None and time.monotonic() < deadline, "the scan ended before it was killed"
        time.sleep(0.05)
        descendants = _children(proc.pid)
    time.sleep(0.5)  # past the workers' start-up, where they register to die with their parent
    descendants = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while (alive := {pid for pid in descendants if Path(f"/proc/{pid}").exists()}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes left running after SIGKILL: {sorted(alive)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]  # no findings file, no .part file
