"""Deterministic images built in code, the inputs of the perceptual hashers' known examples.

They come from Pillow's own generators, so the same Pillow gives the same pixels everywhere, and
no image file has to ship with the package.
"""

from __future__ import annotations

from PIL import Image, ImageChops, ImageDraw


def mandelbrot() -> Image.Image:
    """A 320x240 grey Mandelbrot set: strong structure, high PDQ quality."""
    return Image.effect_mandelbrot((320, 240), (-2.2, -1.2, 0.8, 1.2), 64)


def shapes() -> Image.Image:
    """A 240x240 grey scene: a gradient sky, a dark disc and a bright bar, like a simple photo."""
    img = ImageChops.multiply(Image.linear_gradient("L"), Image.radial_gradient("L").point(lambda v: 255 - v // 2))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 120, 140, 220), fill=30)
    draw.rectangle((150, 30, 230, 70), fill=235)
    return img.crop((8, 8, 248, 248))  # under 256 a side, so pHash/dHash need no pre-shrink


SAMPLES = {"mandelbrot": mandelbrot, "shapes": shapes}
