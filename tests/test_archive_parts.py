"""One archive's members shared out between workers: every part walks the whole archive (limits, problems
and order are the whole archive's), each hashes its own run of members, and together they are the unsplit
result, member for member."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from libra_cli.engine import EngineOptions, make_engine
from libra_cli.engine import pool as pool_module
from libra_cli.hashing import hash_ref, merge_parts
from libra_cli.media.archive import scan
from libra_cli.models import ArchiveLimits, HashResult, MediaRef
from test_archives import CONFIG, LISTED, OTHER, PHOTOS, tar_bytes, zip_bytes, zipcrypto

NOISE = random.Random(15).randbytes(300_000)  # a member above the ratio floor that does not compress


def members() -> dict[str, bytes]:
    out = {f"dir/p{i:02d}.jpg": (LISTED, OTHER)[i % 2] + bytes([i]) for i in range(9)}
    out["inner.zip"] = zip_bytes({"a.jpg": LISTED, "deep.tar.gz": tar_bytes({"b.txt": b"b"}, "w:gz")})
    out["noise.bin"] = NOISE
    out["zeros.bin"] = bytes(3_000_000)  # 1000s to 1 deflated: refused in a ZIP, stops a tar.gz
    out["last.txt"] = b"the end"
    return out


def archives() -> dict[str, bytes]:
    whole = zip_bytes(members())
    tgz = tar_bytes(members(), "w:gz")
    return {
        "zip": zip_bytes(members()),
        "zip-stored": zip_bytes({k: v for k, v in members().items() if k != "zeros.bin"}, 0),
        "tar": tar_bytes(members()),
        "tar.gz": tgz,
        "tar.gz-cut": tgz[: len(tgz) * 2 // 3],
        "zip-cut": whole[: len(whole) // 2],  # no central directory: read from local headers
        "zip-encrypted": zipcrypto("secret.jpg", LISTED),
        "gz-single": __import__("gzip").compress(LISTED),
    }


Seen = tuple[tuple[str, ...], str | None, int, int | None, str | None]


def walk(data: bytes, kind: str, limits: ArchiveLimits, part: tuple[int, int] | None) -> tuple[list[Seen], str | None]:
    seen: list[Seen] = []

    def visit(path: tuple[str, ...], body: bytes | None, size: int, when: int | None, problem: str | None) -> None:
        seen.append((path, None if body is None else hashlib.md5(body).hexdigest(), size, when, problem))

    return seen, scan(data, kind, limits, visit, part=part)


@pytest.mark.parametrize("name", list(archives()))
@pytest.mark.parametrize("limits", [ArchiveLimits(), ArchiveLimits(max_members=7), ArchiveLimits(max_size=2_000_000)])
def test_parts_together_are_the_whole_walk(name: str, limits: ArchiveLimits) -> None:
    from libra_cli.media.archive import kind_of

    data = archives()[name]
    kind = kind_of(data[:512])
    assert kind is not None
    whole, problems = walk(data, kind, limits, None)
    for parts in (2, 3, 5):
        walks = [walk(data, kind, limits, (i, parts)) for i in range(parts)]
        assert [s for seen, _ in walks for s in seen] == whole, (parts, [len(seen) for seen, _ in walks])
        assert {p for _, p in walks} == {problems}  # the whole archive's problems, from every part
        if len(whole) >= parts * 2 and kind == "zip":  # by index (a TAR is shared by bytes)
            assert all(seen for seen, _ in walks)  # each part has a share


def hashed(tmp: Path, data: bytes, name: str, part: tuple[int, int] | None = None) -> HashResult:
    path = tmp / name
    path.write_bytes(data)
    return hash_ref(MediaRef(str(path), len(data)), CONFIG, part=part)


def same(a: HashResult, b: HashResult) -> None:
    assert (a.ref, a.media_type, a.digests, a.error, a.fatal) == (b.ref, b.media_type, b.digests, b.error, b.fatal)
    assert [(m.ref, m.member, m.digests, m.error, m.media_type) for m in a.members] == [
        (m.ref, m.member, m.digests, m.error, m.media_type) for m in b.members
    ]
    assert [[v.values.tobytes() for v in m.perceptual] for m in a.members] == [
        [v.values.tobytes() for v in m.perceptual] for m in b.members
    ]


@pytest.mark.parametrize("name", ["zip", "tar.gz", "tar.gz-cut", "zip-cut"])
def test_merged_parts_are_the_unsplit_result(tmp_path: Path, name: str) -> None:
    data = archives()[name]
    whole = hashed(tmp_path, data, "a")
    parts = [hashed(tmp_path, data, "a", (i, 3)) for i in range(3)]
    assert parts[0].digests and not parts[1].digests and not parts[2].digests  # the file's digests once
    same(merge_parts(parts), whole)


def test_what_is_not_shared_out_is_the_first_parts(tmp_path: Path) -> None:
    bz2 = tar_bytes(members(), "w:bz2")  # inflates slower than it hashes: one part reads it all
    photo = LISTED
    for data, name in ((bz2, "a.tar.bz2"), (photo, "a.jpg")):
        whole = hashed(tmp_path, data, name)
        parts = [hashed(tmp_path, data, name, (i, 2)) for i in range(2)]
        assert parts[1] == HashResult(parts[1].ref, None)
        same(merge_parts(parts), whole)
    gone = [hashed(tmp_path, photo, "b.jpg", (0, 2)), HashResult(MediaRef("x", 1), None, error="boom", fatal=True)]
    assert merge_parts(gone).fatal and merge_parts(gone).ref == gone[0].ref  # a lost part fails the file


def test_the_pool_shares_a_large_archive_between_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "SPLIT_BYTES", 1024)  # the parent decides: every file here is "large"
    data = archives()["tar.gz"]
    path = tmp_path / "a.tgz"
    path.write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(LISTED)
    refs = [MediaRef(str(path), len(data)), MediaRef(str(tmp_path / "b.jpg"), len(LISTED))]
    engine = make_engine("local", CONFIG, EngineOptions(workers=2))
    out: list[HashResult] = []
    with engine:
        for ref in refs:
            engine.submit(ref)
        assert engine.pending() == 2
        while engine.pending():
            out.extend(engine.poll(0.5))
    assert len(out) == 2
    got = {r.ref.uri: r for r in out}
    same(got[str(path)], hash_ref(refs[0], CONFIG))
    assert got[str(tmp_path / "b.jpg")].digests["md5"] == hashlib.md5(LISTED).digest()
    assert PHOTOS.is_dir()
