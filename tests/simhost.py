"""A simulated host for the suspected signals (tests and ``bench/bench_suspected.py``), built from benign
pictures only: the sample photos in tests/data/photos and scenes drawn in code (``imagegen.scene``).

Layout: ``ROOT/{account}/`` and ``ROOT/{account}/album/``. Most accounts are ordinary (generated scenes
and framings of photos that are not listed). A few *matched* accounts hold one listed picture (a
framing of a source photo) beside other framings of the same scene (crops, shifts, zooms: the same
series, not on the list) and beside unrelated photos: generated scenes, framings of other photos, and
*look-alikes* (another photo recoloured to the listed photo's palette: same colours, other content, so a
colour signature cannot tell them apart). Each account uploads in batches: the listed picture and its
series in one batch, the unrelated files on other days. ``Host.kinds`` says what each
file is: ``listed``, ``series``, ``unrelated`` or ``ordinary``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

import imagegen

PHOTOS = Path(__file__).parent / "data" / "photos"
DAY = 86400
#: Host time origin: 2026-11-01T00:00Z.
EPOCH = 1_793_491_200


@dataclass
class Host:
    root: Path
    kinds: dict[str, str] = field(default_factory=dict)  #: location -> listed/series/unrelated/ordinary
    account_of: dict[str, str] = field(default_factory=dict)  #: location -> account
    listed: list[Path] = field(default_factory=list)
    matched_accounts: list[str] = field(default_factory=list)
    accounts: int = 0

    def of(self, kind: str) -> list[str]:
        return sorted(loc for loc, k in self.kinds.items() if k == kind)


@cache
def _source(name: str) -> Image.Image:
    img = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
    img.thumbnail((720, 720))
    return img


def sources() -> list[str]:
    return sorted(p.stem for p in PHOTOS.glob("*.jpg"))


def framing(img: Image.Image, rng: np.random.Generator, size: tuple[int, int], kind: str) -> Image.Image:
    """Another shot of the same scene: a crop window (``crop``), a shifted window (``shift``), a zoom."""
    w, h = img.size
    if kind == "listed":
        box = (0.08, 0.08, 0.92, 0.92)
    elif kind == "zoom":
        share = rng.uniform(0.5, 0.65)
        cx, cy = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)
        box = (cx - share / 2, cy - share / 2, cx + share / 2, cy + share / 2)
    elif kind == "shift":
        dx, dy = rng.choice([-1, 1]) * rng.uniform(0.1, 0.2), rng.choice([-1, 1]) * rng.uniform(0.05, 0.15)
        box = (0.08 + dx, 0.08 + dy, 0.92 + dx, 0.92 + dy)
    else:  # crop: a window of 60-90% of each side somewhere in the picture
        sw, sh = rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.9)
        x, y = rng.uniform(0, 1 - sw), rng.uniform(0, 1 - sh)
        box = (x, y, x + sw, y + sh)
    left, top, right, bottom = (min(1.0, max(0.0, v)) for v in box)
    part = img.crop((round(w * left), round(h * top), round(w * right), round(h * bottom)))
    return part.resize(size, Image.Resampling.BICUBIC)


def lookalike(img: Image.Image, palette: Image.Image) -> Image.Image:
    """``img`` with each colour channel's histogram matched to ``palette``'s: another picture in its colours."""
    pixels = np.asarray(img.convert("RGB")).copy()
    reference = np.asarray(palette.convert("RGB"))
    for channel in range(3):
        wanted = np.sort(reference[..., channel].ravel())
        flat = pixels[..., channel].ravel().copy()
        order = np.argsort(flat, kind="stable")
        flat[order] = wanted[np.arange(order.size) * wanted.size // order.size]
        pixels[..., channel] = flat.reshape(pixels.shape[:2])
    return Image.fromarray(pixels, "RGB")


def _write(path: Path, img: Image.Image, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    path.write_bytes(out.getvalue())
    os.utime(path, (mtime, mtime))


def build(
    root: Path,
    *,
    accounts: int = 300,
    matched: int = 4,
    series: int = 8,
    unrelated: int = 8,
    per_account: tuple[int, int] = (2, 6),
    size: tuple[int, int] = (256, 192),
    seed: int = 0,
) -> Host:
    """Write the host under ``root`` (``root/u0000/…``); ``matched`` of the ``accounts`` hold a listed picture."""
    rng = np.random.default_rng(seed)
    host = Host(root, accounts=accounts)
    names = sources()
    listed_sources, other_sources = names[:matched], names[matched:]
    matched_ids = set(rng.choice(accounts, size=matched, replace=False).tolist())
    scene_seed = 1000 * seed
    for index in range(accounts):
        account = f"u{index:04d}"
        base = EPOCH + rng.uniform(0, 30) * DAY
        folder = root / account

        def put(
            kind: str, img: Image.Image, when: float, n: int, account: str = account, folder: Path = folder
        ) -> None:
            path = (folder / "album" if rng.random() < 0.4 else folder) / f"IMG_{n:04d}.jpg"
            _write(path, img, when)
            host.kinds[str(path)] = kind
            host.account_of[str(path)] = account

        if index in matched_ids:
            source = _source(listed_sources[len(host.matched_accounts)])
            host.matched_accounts.append(account)
            path = folder / "IMG_0000.jpg"
            _write(path, framing(source, rng, size, "listed"), base)
            host.kinds[str(path)] = "listed"
            host.account_of[str(path)] = account
            host.listed.append(path)
            for n in range(1, series + 1):
                kind = ("crop", "shift", "zoom")[n % 3]
                put("series", framing(source, rng, size, kind), base + rng.uniform(-120, 120), n)
            for n in range(series + 1, series + unrelated + 1):
                when = base + rng.choice([-1, 1]) * rng.uniform(1, 10) * DAY
                if n % 3 == 0:  # a look-alike: another photo in the listed photo's colours
                    img = lookalike(framing(_source(str(rng.choice(other_sources))), rng, size, "crop"), source)
                elif rng.random() < 0.5:
                    img = framing(_source(str(rng.choice(other_sources))), rng, size, "crop")
                else:
                    scene_seed += 1
                    img = imagegen.scene(scene_seed, size=size)
                put("unrelated", img, when, n)
            continue
        for n in range(int(rng.integers(per_account[0], per_account[1] + 1))):
            if rng.random() < 0.3:
                img = framing(_source(str(rng.choice(other_sources))), rng, size, "crop")
            else:
                scene_seed += 1
                img = imagegen.scene(scene_seed, size=size)
            put("ordinary", img, base + rng.uniform(0, 300), n)
    return host


def auc(positives: list[float], negatives: list[float]) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    pos, neg = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))
