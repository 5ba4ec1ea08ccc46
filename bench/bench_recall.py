"""Perceptual recall of PDQ on common edits, with and without the list-side robust hashes.

Run:  python bench/bench_recall.py [--no-quadrants]

The listed images are the ten sample photos in tests/data/photos/ plus their four quadrants (50
images, all in memory). Each is edited in memory (resize 50%, thumbnail, JPEG q40, 5% crops,
watermark, brightness/contrast, grayscale, WebP, mirror, rotations); the edited file's bytes go
through the same decode and PDQ + dihedral path a scan uses (``media.image.decode`` +
``PDQ.hash_dihedral``), and the list side through the same path plus ``robust_hashes`` for the
robust column. A query matches a listed image when any pair of hashes is within Hamming distance
31 with both qualities >= 50 (the matcher's defaults).

Recall counts queries that match their own listed image, over the images a list could carry
(original PDQ quality >= 50; two dim quadrants fall below). False matches count (query, entry)
pairs from different source photos, plus matches of 200 generated unrelated images (random
shapes, gradients and noise) against any entry. Matches between a photo and its own quadrants are
reported apart: they are related images, not false matches.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from libra_cli.hashers.pdq import PDQ
from libra_cli.hashers.robust import robust_hashes
from libra_cli.media.image import decode
from libra_cli.models import PerceptualHash

PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "photos"
THRESHOLD = 31
MIN_QUALITY = 50
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class Listed:
    name: str
    source: str
    image: Image.Image


def encode(img: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def listed_images(quadrants: bool) -> list[Listed]:
    items = []
    for path in sorted(PHOTOS.glob("*.jpg")):
        img = Image.open(path).convert("RGB")
        items.append(Listed(path.stem, path.stem, img))
        if quadrants:
            w, h = img.size
            for i, (x, y) in enumerate(((0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2))):
                items.append(Listed(f"{path.stem}-q{i}", path.stem, img.crop((x, y, x + w // 2, y + h // 2))))
    return items


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _watermark(img: Image.Image, index: int, scale: int = 24) -> Image.Image:
    """Semi-opaque white text with a dark outline in one corner: a third of the width (``scale``
    24), or half of it (16)."""
    out = img.convert("RGBA")
    w, h = out.size
    size = max(8, w // scale)
    font = ImageFont.load_default(size=size)
    text = "© example.com"
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    box = draw.textbbox((0, 0), text, font=font, stroke_width=max(1, size // 12))
    tw, th = box[2] - box[0], box[3] - box[1]
    margin = max(2, w // 50)
    corner = index % 4
    x = margin if corner in (0, 2) else w - tw - margin
    y = margin if corner in (0, 1) else h - th - margin
    draw.text((x - box[0], y - box[1]), text, font=font, fill=(255, 255, 255, 200),
              stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0, 160))
    return Image.alpha_composite(out, layer).convert("RGB")


def _one_side_crop(img: Image.Image, index: int) -> Image.Image:
    sides = [(0.05, 0, 0, 0), (0, 0.05, 0, 0), (0, 0, 0.05, 0), (0, 0, 0, 0.05)]
    return _crop(img, *sides[index % 4])


def _thumbnail(img: Image.Image, side: int) -> Image.Image:
    small = img.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


Edit = Callable[[Image.Image, int], bytes]
EDITS: dict[str, Edit] = {
    "resize 50%": lambda im, i: encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "thumbnail 150px": lambda im, i: encode(_thumbnail(im, 150), quality=85),
    # 150 px is also a size the robust list carries; 128 px is not, and shows how the design generalises.
    "thumbnail 128px": lambda im, i: encode(_thumbnail(im, 128), quality=85),
    "JPEG q40": lambda im, i: encode(im, quality=40),
    "crop 5% each side": lambda im, i: encode(_crop(im, 0.05, 0.05, 0.05, 0.05)),
    "crop 5% one side": lambda im, i: encode(_one_side_crop(im, i)),
    "watermark": lambda im, i: encode(_watermark(im, i)),
    "large watermark": lambda im, i: encode(_watermark(im, i, scale=16)),
    "brightness+contrast": lambda im, i: encode(
        ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.2)).enhance(1.2 if i % 2 else 0.8)
    ),
    "grayscale": lambda im, i: encode(ImageOps.grayscale(im)),
    "WebP q75": lambda im, i: encode(im, "WEBP", quality=75),
    "mirror": lambda im, i: encode(ImageOps.mirror(im)),
    "rotate 90": lambda im, i: encode(im.transpose(Image.Transpose.ROTATE_270)),
    "rotate 180": lambda im, i: encode(im.transpose(Image.Transpose.ROTATE_180)),
}


def unrelated_images(count: int, seed: int = 7) -> list[bytes]:
    """Generated images with structure (shapes, gradients, noise) and no relation to the photos."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        w, h = int(rng.integers(200, 700)), int(rng.integers(200, 700))
        base = np.linspace(rng.uniform(0, 255), rng.uniform(0, 255), w)[None, :] * np.ones((h, 1))
        img = Image.fromarray(base.astype(np.uint8), "L").convert("RGB")
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 15))):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(10, w // 2 + 11)), y0 + int(rng.integers(10, h // 2 + 11))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
        noise = rng.normal(0, rng.uniform(2, 25), (h, w, 3))
        pixels = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        out.append(encode(Image.fromarray(pixels, "RGB")))
    return out


def bits(hashes: list[PerceptualHash]) -> npt.NDArray[np.uint8]:
    kept = [h for h in hashes if (h.quality or 0) >= MIN_QUALITY]
    if not kept:
        return np.zeros((0, 256), dtype=np.uint8)
    return np.unpackbits(np.frombuffer(bytes.fromhex("".join(h.value for h in kept)), np.uint8).reshape(-1, 32), axis=1)


def query_bits(data: bytes) -> npt.NDArray[np.uint8]:
    return bits(PDQ.hash_dihedral(decode(data, max_pixels=MAX_PIXELS).image))


def min_distance(query: npt.NDArray[np.uint8], entries: npt.NDArray[np.uint8]) -> int:
    if len(query) == 0 or len(entries) == 0:
        return 256
    return int((query[:, None, :] != entries[None, :, :]).sum(axis=2).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-quadrants", action="store_true", help="list only the ten full photos")
    parser.add_argument("--unrelated", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    items = listed_images(not args.no_quadrants)
    plain: list[npt.NDArray[np.uint8]] = []
    robust: list[npt.NDArray[np.uint8]] = []
    variants = 0
    listable: list[bool] = []
    for item in items:
        grey = decode(encode(item.image, quality=92), max_pixels=MAX_PIXELS).image
        original = PDQ.hash_image(grey)
        extra = robust_hashes(grey)
        variants = max(variants, len(extra))
        listable.append((original[0].quality or 0) >= MIN_QUALITY)
        plain.append(bits(original))
        robust.append(bits(original + extra))
    count = sum(listable)
    print(f"{len(items)} images ({len({i.source for i in items})} photos), {count} listable (PDQ quality >= "
          f"{MIN_QUALITY}); {variants} robust hashes each besides the original\n")
    print(f"{'edit':22s} {'plain PDQ':>10s} {'robust':>8s}")
    false_plain = false_robust = related = 0
    closest_plain = closest_robust = 256  # nearest unrelated pair: the margin below 31 that is left
    recalls: dict[str, tuple[float, float]] = {}
    for edit_name, edit in EDITS.items():
        hit_plain = hit_robust = 0
        for index, item in enumerate(items):
            query = query_bits(edit(item.image, index))
            for other_index, other in enumerate(items):
                same = other_index == index
                d_plain = min_distance(query, plain[other_index])
                d_robust = min_distance(query, robust[other_index])
                p, r = d_plain <= THRESHOLD, d_robust <= THRESHOLD
                if same:
                    hit_plain += p and listable[index]
                    hit_robust += r and listable[index]
                elif other.source != item.source:
                    false_plain += p
                    false_robust += r
                    closest_plain = min(closest_plain, d_plain)
                    closest_robust = min(closest_robust, d_robust)
                else:
                    related += r
        recalls[edit_name] = (hit_plain / count, hit_robust / count)
        print(f"{edit_name:22s} {hit_plain / count:10.2f} {hit_robust / count:8.2f}")
    mean_plain = sum(p for p, _ in recalls.values()) / len(recalls)
    mean_robust = sum(r for _, r in recalls.values()) / len(recalls)
    print(f"{'mean':22s} {mean_plain:10.2f} {mean_robust:8.2f}")
    print(f"{'min':22s} {min(p for p, _ in recalls.values()):10.2f} {min(r for _, r in recalls.values()):8.2f}")
    unrelated_plain = unrelated_robust = 0
    all_plain = np.concatenate(plain)
    all_robust = np.concatenate(robust)
    for data in unrelated_images(args.unrelated):
        query = query_bits(data)
        d_plain, d_robust = min_distance(query, all_plain), min_distance(query, all_robust)
        unrelated_plain += d_plain <= THRESHOLD
        unrelated_robust += d_robust <= THRESHOLD
        closest_plain = min(closest_plain, d_plain)
        closest_robust = min(closest_robust, d_robust)
    print(f"\nfalse matches, edited photo vs another photo's entries: plain {false_plain}, robust {false_robust}")
    print(f"false matches, {args.unrelated} generated unrelated images: plain {unrelated_plain}, "
          f"robust {unrelated_robust}")
    print(f"closest unrelated pair: plain {closest_plain} bits, robust {closest_robust} bits (threshold {THRESHOLD})")
    print(f"related matches (a photo vs its own quadrants, robust): {related}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
