"""Recall on the edits re-uploads carry, false matches on unrelated pictures, and the cost of deep mode.

Run:  python bench/bench_recall.py [--unrelated 300] [--no-quadrants] [--no-speed]

Listed: the ten sample photos in tests/data/photos/ and their four quadrants (50 pictures), hashed
the way ``libra hash --robust --perceptual pdq,phash,dhash`` hashes them (``ImageHasher`` with
``HashConfig(robust=True)``), into an in-memory list whose entries carry their ``variant``.
Queries: each listed picture edited in memory (the basic and hard families below), encoded, and
hashed the way ``libra scan`` hashes a file (``ImageHasher`` with the scan's ``HashConfig``, deep
mode off and on), then matched by the real ``Matcher`` with its default rules (roles, thresholds,
quality floors, region rules) and collapsed as findings are (``pipeline.collapse``).

Recall counts queries whose findings name their own listed picture, over the pictures a list can
carry (PDQ quality >= 50). A finding that names another photo is a false match; one that names a
picture of the same photo (a photo and its own quadrant) is related, counted apart. Unrelated
queries besides the other photos' edits: generated scenes (``tests/imagegen.scene``: shapes,
clouds, landscapes, documents, portraits) and coarse twins (``imagegen.coarse_twin``: a photo's
coarse structure under another photo's detail, near in pHash and dHash by construction).

Per hash type it also prints, as if every hash could make a finding alone at its default threshold,
how many unrelated queries would have matched and the closest unrelated distance: the margin the
rules keep. This corpus is small (50 listed pictures, about 2,000 unrelated queries) against the
held-out set the thresholds must hold on (80 listed photos, 2,516 unrelated real photos).

Speed: hashing CPU per 2 MP JPEG (decode + hashes, one process) with the scan's default hash set,
with and without deep mode, interleaved; ``bench/bench_throughput.py`` measures whole workers.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import imagegen  # type: ignore[import-not-found]  # noqa: E402  (the tests' generators: pictures drawn in code)
from libra_cli import signals  # noqa: E402
from libra_cli.hashing import ImageHasher, MediaSource  # noqa: E402
from libra_cli.hashlist.table import HashList, ListInfo  # noqa: E402
from libra_cli.match.matcher import REGION_THRESHOLD, Matcher, admissible  # noqa: E402
from libra_cli.models import Entry, HashConfig, HashResult, MediaRef  # noqa: E402
from libra_cli.pipeline import collapse  # noqa: E402
from libra_cli.variants import is_region  # noqa: E402

PERCEPTUAL = ("pdq", "phash", "dhash")
MIN_QUALITY = 50
LIST_CONFIG = HashConfig(digests=(), perceptual=PERCEPTUAL, dihedral=False, robust=True)
SCAN = {
    "default": HashConfig(digests=(), perceptual=PERCEPTUAL),
    "deep": HashConfig(digests=(), perceptual=PERCEPTUAL, deep=True),
}


@dataclass(frozen=True)
class Listed:
    name: str
    source: str
    image: Image.Image


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, fmt, **options)
    return buffer.getvalue()


def listed_images(quadrants: bool) -> list[Listed]:
    items = []
    for name in imagegen.PHOTO_NAMES:
        img = imagegen.photo(name)
        items.append(Listed(name, name, img))
        if quadrants:
            w, h = img.size
            for i, (x, y) in enumerate(((0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2))):
                items.append(Listed(f"{name}-q{i}", name, img.crop((x, y, x + w // 2, y + h // 2))))
    return items


# --- Edits -------------------------------------------------------------------------------------------
# Each takes the listed picture, its index (to vary corners and sides) and an unrelated host picture.


def _thumbnail(img: Image.Image, side: int) -> Image.Image:
    small = img.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


Edit = Callable[[Image.Image, int, Image.Image], bytes]
BASIC: dict[str, Edit] = {
    "resize 50%": lambda im, i, _: encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "thumbnail 150px": lambda im, i, _: encode(_thumbnail(im, 150), quality=85),
    "JPEG q40": lambda im, i, _: encode(im, quality=40),
    "crop 5% each side": lambda im, i, _: encode(imagegen.crop(im, 0.05, 0.05, 0.05, 0.05)),
    "crop 5% one side": lambda im, i, _: encode(
        imagegen.crop(im, *((0.05, 0, 0, 0), (0, 0.05, 0, 0), (0, 0, 0.05, 0), (0, 0, 0, 0.05))[i % 4])
    ),
    "brightness+contrast": lambda im, i, _: encode(
        ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.2)).enhance(1.2 if i % 2 else 0.8)
    ),
    "grayscale": lambda im, i, _: encode(ImageOps.grayscale(im)),
    "WebP q75": lambda im, i, _: encode(im, "WEBP", quality=75),
    "mirror": lambda im, i, _: encode(ImageOps.mirror(im)),
    "rotate 90": lambda im, i, _: encode(im.transpose(Image.Transpose.ROTATE_270)),
    "rotate 180": lambda im, i, _: encode(im.transpose(Image.Transpose.ROTATE_180)),
}
HARD: dict[str, Edit] = {
    "watermark box 2.5%": lambda im, i, _: encode(imagegen.watermark_box(im, i)),
    "logo": lambda im, i, _: encode(imagegen.logo(im, i)),
    "caption banner": lambda im, i, _: encode(imagegen.caption_banner(im, i)),
    "letterbox": lambda im, i, _: encode(imagegen.letterbox(im, i)),
    "rotate 3 degrees": lambda im, i, _: encode(imagegen.rotate3(im, i)),
    "crop 15% corner": lambda im, i, _: encode(imagegen.corner_crop(im, i)),
    "picture-in-picture": lambda im, i, host: encode(imagegen.picture_in_picture(im, i, host)),
    "mirror + crop": lambda im, i, _: encode(imagegen.mirror_crop(im, i)),
    "stretch": lambda im, i, _: encode(im.resize((round(im.width * 1.3), im.height), Image.Resampling.BICUBIC)),
    "sepia": lambda im, i, _: encode(imagegen.sepia(im)),
    "blur": lambda im, i, _: encode(im.filter(ImageFilter.GaussianBlur(2))),
    "noise": lambda im, i, _: encode(imagegen.noise(im, i)),
}


# --- Hashing and matching through libra's own code -----------------------------------------------------

HASHER = ImageHasher()


def hash_bytes(data: bytes, config: HashConfig) -> HashResult:
    ref = MediaRef("mem://query", len(data))
    source = MediaSource(
        ref, "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/webp", data, lambda: io.BytesIO(data)
    )
    found = HASHER.hash(source, config, HASHER.wants(config))
    assert found.error is None, found.error
    return HashResult(ref, source.media_type, {}, found.perceptual, frozenset(config.perceptual))


def list_entries(item: Listed) -> tuple[list[Entry], bool]:
    """The listed picture's entries (value, id, variant) and whether a list can carry it (quality)."""
    result = hash_bytes(encode(item.image, quality=92), LIST_CONFIG)
    entries: list[Entry] = []
    listable = False
    for values in result.perceptual:
        floor = signals.get(values.hash_type).quality_floor
        for row in range(len(values)):
            quality = None if values.quality is None else int(values.quality[row])
            if floor is not None and quality is not None and quality < floor:
                continue
            variant = values.transforms[row]
            listable |= values.hash_type == "pdq" and variant == "original"
            entries.append(Entry(values.hash_type, values.values[row].tobytes().hex(), id=item.name, variant=variant))
    return entries, listable


KINDS = ("pdq", "pdq regions", "phash", "dhash")


@dataclass
class Distances:
    """Closest unrelated distance and would-be false matches per hash type (every hash on its own).

    ``pdq regions`` are the PDQ pairs with a region (corner window, inset) on either side that the matcher
    compares at all (``matcher.admissible``).
    """

    closest: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 999))
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    # every unrelated pair's distance: count, sum, sum of squares, and how many at each distance
    moments: dict[str, list[float]] = field(default_factory=lambda: {k: [0.0, 0.0, 0.0] for k in KINDS})
    histogram: dict[str, npt.NDArray[np.int64]] = field(
        default_factory=lambda: {k: np.zeros(257, dtype=np.int64) for k in KINDS}
    )
    nearest: dict[str, str] = field(default_factory=dict)  # what the closest pair was, for --verbose

    def add(self, result: HashResult, table: Table, label: str) -> None:
        for values in result.perceptual:
            name = values.hash_type
            bits, variants, ids = table.get(name, (None, [], []))
            if bits is None or len(bits) == 0:
                continue
            floor = signals.get(name).quality_floor
            keep = np.arange(len(values))
            if floor is not None and values.quality is not None:
                keep = keep[values.quality >= floor]
            if len(keep) == 0:
                continue
            query = np.unpackbits(values.values[keep], axis=1)
            grid = (query[:, None, :] != bits[None, :, :]).sum(axis=2)
            transforms = [values.transforms[k] for k in keep]
            if name == "pdq":
                # the pairs the matcher compares (parts meet their like), split into whole pictures and regions
                regional = np.array([[bool(is_region(q) or is_region(v)) for v in variants] for q in transforms])
                compared = np.array([[admissible(q, v) for v in variants] for q in transforms])
                parts = {
                    "pdq": np.where(regional | ~compared, 999, grid),
                    "pdq regions": np.where(regional & compared, grid, 999),
                }
            else:
                parts = {name: grid}
            for kind, part in parts.items():
                real = part[part < 999].astype(np.float64)
                self.moments[kind][0] += real.size
                self.moments[kind][1] += real.sum()
                self.moments[kind][2] += (real**2).sum()
                self.histogram[kind] += np.bincount(real.astype(np.int64), minlength=257)[:257]
                distance = int(part.min())
                if distance < self.closest[kind]:
                    qi, ei = np.unravel_index(int(part.argmin()), part.shape)
                    self.nearest[kind] = f"{label} [{transforms[int(qi)]}] vs {ids[int(ei)]} [{variants[int(ei)]}]"
                    self.closest[kind] = distance
                self.hits[kind] += distance <= signals.get(name).default_threshold


Table = dict[str, tuple[npt.NDArray[np.uint8] | None, list[str | None], list[str | None]]]


def unpacked(entries: list[Entry]) -> Table:
    """Entries per hash type as unpacked bits, with their variants and ids."""
    out: Table = {}
    for name in PERCEPTUAL:
        chosen = [e for e in entries if e.hash_type == name]
        raw = np.frombuffer(b"".join(bytes.fromhex(e.value) for e in chosen), np.uint8).reshape(
            -1, signals.get(name).nbytes
        )
        out[name] = (np.unpackbits(raw, axis=1), [e.variant for e in chosen], [e.id for e in chosen])
    return out


def unrelated_queries(count: int) -> list[tuple[str, str | None, bytes]]:
    """Generated scenes, and coarse twins of the photos: (label, the photo it is related to, bytes).

    A twin a/b has photo a's coarse structure and photo b's detail: to PDQ (and a person) it is b, so it
    is unrelated to a only.
    """
    out = []
    photos = imagegen.PHOTO_NAMES
    for seed in range(count):
        if seed % 4 == 3:
            a, b = photos[seed % len(photos)], photos[(seed * 7 + 3) % len(photos)]
            if a == b:
                b = photos[(photos.index(a) + 1) % len(photos)]
            twin = imagegen.coarse_twin(imagegen.photo(a), imagegen.photo(b), cells=8 + seed % 5)
            out.append((f"twin {a}/{b}", b, encode(twin, quality=90)))
        else:
            out.append((f"scene {seed}", None, encode(imagegen.scene(seed), quality=90)))
    return out


@dataclass
class Tally:
    hits: int = 0
    false: int = 0
    related: int = 0
    how: dict[str, int] = field(default_factory=dict)  # which query/list variant found it


def run_matching(args: argparse.Namespace) -> None:
    items = listed_images(not args.no_quadrants)
    listable: dict[str, bool] = {}
    robust_entries: list[Entry] = []
    plain_entries: list[Entry] = []
    for item in items:
        entries, ok = list_entries(item)
        listable[item.name] = ok
        robust_entries += entries
        plain_entries += [e for e in entries if e.variant == "original"]
    source = {item.name: item.source for item in items}
    count = sum(listable.values())
    lists = {
        "plain": Matcher.build([HashList.from_entries(ListInfo("plain"), plain_entries)]),
        "robust": Matcher.build([HashList.from_entries(ListInfo("robust"), robust_entries)]),
    }
    columns = [("plain", "default"), ("robust", "default"), ("robust", "deep")]
    print(
        f"{len(items)} listed pictures ({len(set(source.values()))} photos), {count} listable; "
        f"robust list: {len(robust_entries)} entries ({len(robust_entries) / len(items):.0f} per picture)\n"
    )
    header = "".join(f"{a + '/' + b:>16s}" for a, b in columns)
    print(f"{'edit':24s}{header}")
    falses = {c: 0 for c in columns}
    related = {c: 0 for c in columns}
    distances = {mode: Distances() for mode in SCAN}
    tables = {src: unpacked([e for e in robust_entries if source[e.id or ""] != src]) for src in set(source.values())}
    recalls: dict[str, dict[tuple[str, str], float]] = {}
    for family, edits in (("basic", BASIC), ("hard", HARD)):
        for edit_name, edit in edits.items():
            tallies = {c: Tally() for c in columns}
            for index, item in enumerate(items):
                host_name = imagegen.PHOTO_NAMES[(imagegen.PHOTO_NAMES.index(item.source) + 3) % 10]
                data = edit(item.image, index, imagegen.photo(host_name))
                # a picture pasted into another photo is related to both
                related_sources = (
                    {item.source, host_name} if edits is HARD and edit_name == "picture-in-picture" else {item.source}
                )
                for mode, config in SCAN.items():
                    result = hash_bytes(data, config)
                    table = (
                        tables[item.source]
                        if len(related_sources) == 1
                        else unpacked([e for e in robust_entries if source[e.id or ""] not in related_sources])
                    )
                    distances[mode].add(result, table, f"{edit_name} of {item.name}")
                    for list_name, matcher in lists.items():
                        column = (list_name, mode)
                        if column not in tallies:
                            continue
                        tally = tallies[column]
                        found = collapse(matcher.match(result))
                        ids = {m.entry.id for m in found}
                        if item.name in ids and listable[item.name]:
                            tally.hits += 1
                        if any(source[i or ""] not in related_sources for i in ids):
                            tally.false += 1
                        tally.related += len([i for i in ids if i != item.name and source[i or ""] == item.source])
            recalls[edit_name] = {c: t.hits / count for c, t in tallies.items()}
            for c, t in tallies.items():
                falses[c] += t.false
                related[c] += t.related
            row = "".join(f"{recalls[edit_name][c]:16.2f}" for c in columns)
            print(f"{family[0]} {edit_name:22s}{row}")
    for family, edits in (("basic", BASIC), ("hard", HARD)):
        row = "".join(f"{min(recalls[e][c] for e in edits):16.2f}" for c in columns)
        print(f"  {'min ' + family:22s}{row}")
    unrelated = unrelated_queries(args.unrelated)
    unrelated_false = {c: 0 for c in columns}
    all_robust = unpacked(robust_entries)
    for label, related_to, data in unrelated:
        for mode, config in SCAN.items():
            result = hash_bytes(data, config)
            distances[mode].add(result, all_robust if related_to is None else tables[related_to], label)
            for list_name, matcher in lists.items():
                found = [m for m in collapse(matcher.match(result)) if source[m.entry.id or ""] != related_to]
                if (list_name, mode) in unrelated_false and found:
                    unrelated_false[(list_name, mode)] += 1
                    if args.verbose:
                        print(
                            "false match:",
                            label,
                            list_name,
                            mode,
                            [(m.hash_type, m.distance, m.entry.id, m.query_variant, m.list_variant) for m in found],
                        )
    queries = len(items) * (len(BASIC) + len(HARD))
    print(f"\nfalse findings, {queries} edited photos vs the other photos' entries:")
    print("  " + "  ".join(f"{a}/{b}: {falses[(a, b)]}" for a, b in columns))
    print(f"false findings, {len(unrelated)} generated scenes and coarse twins vs every entry:")
    print("  " + "  ".join(f"{a}/{b}: {unrelated_false[(a, b)]}" for a, b in columns))
    print(
        "related findings (a photo and its own quadrants): "
        + "  ".join(f"{a}/{b}: {related[(a, b)]}" for a, b in columns)
    )
    print("\nif each hash type made findings alone at its default threshold (robust list, every unrelated query):")
    for mode in SCAN:
        d = distances[mode]
        cells = "  ".join(
            f"{kind} {d.hits[kind]} hits, closest {d.closest[kind]}/{signals.get(kind.split()[0]).default_threshold}"
            for kind in KINDS
        )
        print(f"  {mode:8s} {cells}")
        if args.verbose:
            for name, what in d.nearest.items():
                print(f"           closest {name}: {what}")
    print("\nunrelated pairs' distances (every query hash against every entry), and a normal tail at the threshold:")
    for mode in SCAN:
        for kind in KINDS:
            n, total, squares = distances[mode].moments[kind]
            if n == 0:
                continue
            mean = total / n
            sd = max(squares / n - mean**2, 0.0) ** 0.5
            bits = signals.get(kind.split()[0]).bits
            threshold = signals.get(kind.split()[0]).default_threshold
            limits = (threshold, REGION_THRESHOLD) if kind == "pdq regions" else (threshold,)
            tails = "  ".join(f"P(d<={t}) ~ {_normal_tail((t + 0.5 - mean) / sd):.1e}" for t in limits)
            print(f"  {mode:8s} {kind:12s} {int(n):>10d} pairs  mean {mean:6.1f}  sd {sd:5.1f}  ({bits} bits)  {tails}")
            print(f"  {'':8s} {'':12s} {_lower_tail(distances[mode].histogram[kind], threshold, limits[-1])}")


def _lower_tail(histogram: npt.NDArray[np.int64], threshold: int, strict: int) -> str:
    """The measured share of pairs at or below a few distances, and that share extrapolated to the
    threshold along a straight line in log scale through the lowest distances seen 10 times or more
    (the observed tail: real pictures are not random bits, and the normal fit says nothing about it)."""
    total = histogram.sum()
    cumulative = np.cumsum(histogram) / max(total, 1)
    counts = np.cumsum(histogram)
    seen = [d for d in range(len(histogram)) if counts[d] >= 10]
    points = [d for d in seen if cumulative[d] <= 1e-2][:40] or seen[:10]
    shown = "  ".join(f"<={d}: {cumulative[d]:.1e}" for d in points[:: max(1, len(points) // 4)][:4])
    if len(points) < 3:
        return f"measured {shown}"
    slope, intercept = np.polyfit(points, np.log10(cumulative[points]), 1)
    guess = {t: 10 ** (intercept + slope * t) for t in sorted({threshold, strict})}
    extrapolated = "  ".join(f"P(d<={t}) ~ {p:.0e}" for t, p in guess.items())
    return f"measured {shown};  extrapolated {extrapolated}"


def _normal_tail(z: float) -> float:
    """P(Z <= z) for a standard normal (z negative: the lower tail)."""
    import math

    return 0.5 * math.erfc(-z / math.sqrt(2))


# --- Speed ------------------------------------------------------------------------------------------


def speed(rounds: int) -> None:
    photos = [imagegen.large_jpeg(name) for name in imagegen.PHOTO_NAMES]
    configs = {
        "default": HashConfig(digests=(), perceptual=("pdq",)),
        "deep": HashConfig(digests=(), perceptual=("pdq",), deep=True),
    }
    best = dict.fromkeys(configs, float("inf"))
    for data in photos[:2]:
        for config in configs.values():
            hash_bytes(data, config)
    for _ in range(rounds):
        for label, config in configs.items():
            start = time.process_time()
            for data in photos:
                hash_bytes(data, config)
            best[label] = min(best[label], (time.process_time() - start) / len(photos))
    print(f"\nhashing CPU per 2 MP JPEG (decode + PDQ + dihedral + regions), best of {rounds}, interleaved:")
    for label, seconds in best.items():
        print(f"  {label:8s} {seconds * 1000:6.2f} ms   {best['default'] / seconds:5.2f}x the default's throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-quadrants", action="store_true", help="list only the ten full photos")
    parser.add_argument("--unrelated", type=int, default=300, help="generated unrelated pictures")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print every false match")
    args = parser.parse_args()
    started = time.perf_counter()
    run_matching(args)
    if not args.no_speed:
        speed(args.rounds)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
