"""The sample dataset: synthetic, labelled photos of shapes, generated from a seed.

No photo set is downloaded at run time and scikit-image ships too few photos to make
classes of, so the sample is drawn here: circles, squares and triangles of varied size,
position on varied, muted backgrounds (gradients, noise, stripes), each class in its
own band of saturated hues (red, blue, green) so that random weights can learn it too.
It is said plainly on the page that it is synthetic. Generation is deterministic for a seed.
"""

from __future__ import annotations

import colorsys
import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from model_zoo.archive import write_zip

SAMPLE_NAME = "sample-shapes.zip"
SAMPLE_CLASSES = ("circle", "square", "triangle")
SAMPLE_PER_CLASS = 24
SAMPLE_SIDE = 160
HUES = {"circle": (-0.05, 0.08), "square": (0.55, 0.68), "triangle": (0.22, 0.38)}


def _background(rng: np.random.Generator, side: int) -> Image.Image:
    kind = rng.integers(3)
    # Muted colours: the shape's saturated hue stays its class's alone.
    grey = rng.uniform(40, 215, 2)
    low, high = grey[0] + rng.uniform(-25, 25, 3), grey[1] + rng.uniform(-25, 25, 3)
    t = np.linspace(0, 1, side)[:, None, None]
    if kind == 0:  # a vertical or horizontal gradient
        pixels = np.broadcast_to(low + (high - low) * t, (side, side, 3))
        if rng.integers(2):
            pixels = pixels.transpose(1, 0, 2)
    elif kind == 1:  # noise around a colour
        pixels = low + rng.normal(0, 30, (side, side, 3))
    else:  # stripes
        period = int(rng.integers(8, 32))
        band = (np.arange(side) // period % 2).astype(float)[:, None, None]
        pixels = np.broadcast_to(low + (high - low) * band, (side, side, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def sample_photo(shape: str, rng: np.random.Generator, side: int = SAMPLE_SIDE) -> Image.Image:
    """One synthetic photo of ``shape`` (one of ``SAMPLE_CLASSES``)."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.18, 0.36) * side
    cx, cy = rng.uniform(radius, side - radius, 2)
    # Each class has its own hue band, so that even random features (the tests' and CI's
    # weights) separate the classes; shape, size, place and background vary freely.
    low, high = HUES.get(shape, (0.0, 1.0))
    rgb = colorsys.hsv_to_rgb(
        rng.uniform(low, high) % 1.0, rng.uniform(0.7, 1), rng.uniform(0.7, 1)
    )
    colour = tuple(int(c * 255) for c in rgb)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif shape == "triangle":
        angle = rng.uniform(0, 2 * np.pi)
        points = [
            (
                cx + radius * np.cos(angle + k * 2 * np.pi / 3),
                cy + radius * np.sin(angle + k * 2 * np.pi / 3),
            )
            for k in range(3)
        ]
        draw.polygon(points, fill=colour)
    else:
        raise ValueError(f"Unknown shape {shape!r}. Expected one of {sorted(SAMPLE_CLASSES)}.")
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.6)))


def sample_zip(seed: int = 0, per_class: int = SAMPLE_PER_CLASS) -> bytes:
    """The sample as a zip of class folders (``circle/…``, ``square/…``, ``triangle/…``)."""
    rng = np.random.default_rng(seed)

    def entries() -> Iterator[tuple[str, bytes]]:
        for shape in SAMPLE_CLASSES:
            for i in range(per_class):
                photo = io.BytesIO()
                sample_photo(shape, rng).save(photo, "JPEG", quality=90)
                yield f"{shape}/{shape}-{i:03d}.jpg", photo.getvalue()

    return write_zip(entries())


__all__ = ["SAMPLE_CLASSES", "SAMPLE_NAME", "SAMPLE_PER_CLASS", "sample_photo", "sample_zip"]
