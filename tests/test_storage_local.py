"""Local storage walking: references not bytes, exclusions, limits, symlinks, unreadable places."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libra_cli.errors import FileTooLarge, StorageError
from libra_cli.models import MediaRef, Skip
from libra_cli.storage import Changed, Gone, WalkError, WalkOptions, storage_for


def read_ref(ref: MediaRef, limit: int) -> bytes:
    return storage_for(ref.uri).read(ref, limit)[0]


def walk(target: Path, **options: object) -> list[object]:
    return list(storage_for(str(target)).walk(str(target), WalkOptions(**options)))  # type: ignore[arg-type]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.jpg").write_bytes(b"1" * 10)
    (tmp_path / "a" / "b" / "two.bin").write_bytes(b"2" * 100)
    (tmp_path / "three.tmp").write_bytes(b"3")
    return tmp_path


def test_walk_yields_refs_in_order(tree: Path) -> None:
    refs = walk(tree)
    assert all(isinstance(r, MediaRef) for r in refs)
    assert [os.path.relpath(r.uri, tree) for r in refs] == ["a/b/two.bin", "a/one.jpg", "three.tmp"]  # type: ignore[attr-defined]
    assert {r.size for r in refs} == {10, 100, 1}  # type: ignore[attr-defined]


def test_exclude_and_size_limit(tree: Path) -> None:
    items = walk(tree, exclude=("*.tmp",), max_file_size=50)
    assert [type(i).__name__ for i in items] == ["Skip", "MediaRef", "Skip"]
    assert "larger than" in items[0].reason and items[0].listed and items[0].rule == "max_file_size"  # type: ignore[attr-defined]
    assert "excluded" in items[2].reason and not items[2].listed and items[2].rule == "exclude"  # type: ignore[attr-defined]


def test_single_file_target(tree: Path) -> None:
    (ref,) = walk(tree / "a" / "one.jpg")
    assert isinstance(ref, MediaRef) and ref.size == 10
    assert read_ref(ref, 100) == b"1" * 10


def test_missing_target_is_a_walk_error(tmp_path: Path) -> None:
    (item,) = walk(tmp_path / "missing")
    assert isinstance(item, WalkError) and "No such file" in item.reason


def test_symlinks_skipped_unless_followed_and_loops_end(tree: Path) -> None:
    os.symlink(tree / "a", tree / "a" / "b" / "loop")
    os.symlink(tree / "three.tmp", tree / "link.tmp")
    plain = walk(tree)
    assert sum(isinstance(i, Skip) for i in plain) == 2
    followed = walk(tree, follow_symlinks=True)
    refs = [os.path.relpath(i.uri, tree) for i in followed if isinstance(i, MediaRef)]
    assert refs == ["a/b/two.bin", "a/one.jpg", "link.tmp"]  # the loop is entered once, never forever
    # three.tmp is what link.tmp (walked first, by name) led to: a listed skip, not hashed twice
    [again] = [i for i in followed if isinstance(i, Skip)]
    assert (os.path.relpath(again.location, tree), again.rule, again.listed) == ("three.tmp", "duplicate", True)


def test_a_file_reached_by_two_links_is_scanned_once(tmp_path: Path) -> None:
    real = tmp_path / "store"
    real.mkdir()
    for n in range(5):
        (real / f"{n}.jpg").write_bytes(bytes([n]) * 10)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    os.symlink(real, uploads / "all")  # every file, through a folder link
    os.symlink(real / "2.jpg", uploads / "again.jpg")  # and one of them through a file link too
    items = walk(uploads, follow_symlinks=True)
    refs = [i for i in items if isinstance(i, MediaRef)]
    skips = [i for i in items if isinstance(i, Skip)]
    assert len(refs) == 5 and len({r.inode for r in refs}) == 5
    assert [(Path(s.location).name, s.rule) for s in skips] == [("2.jpg", "duplicate")]  # 'again.jpg' came first
    assert len(refs) + len(skips) == 6  # every path walked is accounted for


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_folder(tree: Path) -> None:  # pragma: no cover - CI runs as root
    os.chmod(tree / "a", 0)
    try:
        assert any(isinstance(i, WalkError) for i in walk(tree))
    finally:
        os.chmod(tree / "a", 0o755)


def test_read_limit(tree: Path) -> None:
    (ref,) = walk(tree / "a" / "b" / "two.bin")
    with pytest.raises(FileTooLarge, match="larger than the 50-byte in-memory limit"):
        read_ref(ref, 50)  # type: ignore[arg-type]


def test_unknown_scheme() -> None:
    with pytest.raises(StorageError, match="no storage backend for scheme 'gopher'"):
        storage_for("gopher://x/y")


def _nest(root: Path, depth: int) -> None:
    """``root/d/d/.../d/leaf.bin``, ``depth`` folders deep, with relative calls (the path passes PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leaf.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"x")
        os.close(leaf)
    finally:
        os.close(fd)


def _unnest(root: Path, depth: int) -> None:
    """Remove what ``_nest`` made, deepest first, without recursion (shutil.rmtree would overflow)."""
    fds = [os.open(root, os.O_RDONLY)]
    for _ in range(depth):
        fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
    os.unlink("leaf.bin", dir_fd=fds[-1])
    for level in range(depth, 0, -1):
        os.close(fds[level])
        os.rmdir("d", dir_fd=fds[level - 1])
    os.close(fds[0])


def test_a_tree_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    """A hostile upload of thousands of nested folders must not crash the walk (no recursion)."""
    import sys

    depth = sys.getrecursionlimit() + 200
    _nest(tmp_path, depth)
    try:
        (tmp_path / "top.bin").write_bytes(b"y")
        items = walk(tmp_path)
        refs = [i for i in items if isinstance(i, MediaRef)]
        assert any(r.uri.endswith("top.bin") for r in refs)
        assert any(r.uri.endswith("leaf.bin") for r in refs)
    finally:
        _unnest(tmp_path, depth)


def test_a_file_swapped_after_the_walk_is_refused(tmp_path: Path) -> None:
    """Workers open long after the walk: a symlink, a FIFO or another file in its place is never read."""
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"listed content elsewhere")
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("link", "fifo", "other", "gone", "grown"):
        (tree / name).write_bytes(b"walked")
    refs = {Path(r.uri).name: r for r in walk(tree) if isinstance(r, MediaRef)}
    (tree / "link").unlink()
    os.symlink(outside, tree / "link")
    (tree / "fifo").unlink()
    os.mkfifo(tree / "fifo")
    (tree / "other.new").write_bytes(b"a different file")  # made before the old one goes: a new inode
    os.replace(tree / "other.new", tree / "other")
    (tree / "gone").unlink()
    with open(tree / "grown", "ab") as handle:
        handle.write(b" and more")
    backend = storage_for(str(tree))
    for name in ("link", "other"):
        with pytest.raises(Changed, match="replaced by another file"):
            backend.read(refs[name], 1000)
    with pytest.raises(Changed, match="named pipe"):
        backend.read(refs["fifo"], 1000)  # O_NONBLOCK: refused at once, never a hang
    with pytest.raises(Gone):
        backend.read(refs["gone"], 1000)
    data, ref = backend.read(refs["grown"], 1000)  # changed in place: re-read as it is now
    assert data == b"walked and more" and ref.size == len(data)


def test_libra_own_files_are_skipped_by_identity(tmp_path: Path) -> None:
    (tmp_path / "findings.json").write_text("{}")
    (tmp_path / "photo.jpg").write_bytes(b"x")
    st = (tmp_path / "findings.json").stat()
    items = walk(tmp_path, own_files=frozenset({(st.st_dev, st.st_ino)}))
    assert [(Path(i.location).name, i.rule) for i in items if isinstance(i, Skip)] == [("findings.json", "own_output")]  # type: ignore[union-attr]


def test_a_scan_following_links_counts_each_real_file_once(tmp_path: Path, photos: Path) -> None:
    import json

    from scanhelp import cli, make_identity, make_list, records

    identity = tmp_path / "id.txt"
    hashlist = make_list(tmp_path, [photos / "coffee.jpg"], make_identity(identity))
    uploads = tmp_path / "uploads"
    (uploads / "real").mkdir(parents=True)
    (uploads / "real" / "c.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    os.symlink(uploads / "real" / "c.jpg", uploads / "link.jpg")
    code, out, err = cli("scan", str(uploads), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q",
                         "--follow-symlinks")  # fmt: skip
    assert code == 1, err
    doc = json.loads(out)
    assert [Path(r["location"]).name for r in records(doc)] == ["link.jpg"]
    [again] = records(doc, "skipped")
    assert (Path(again["location"]).name, again["rule"]) == ("c.jpg", "duplicate")
    assert doc["summary"]["matched"] == 1
