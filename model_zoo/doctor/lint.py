"""Quality lint of single images: tiny, very dark or very bright, blurred, near-constant.

Levels 0–255, on the run's decoded copy (224–299 pixels) or a 256-pixel one. Blur is the
sharpness of the strongest edges at 128 pixels (where JPEG's half-resolution colour no
longer softens colour edges): the 99th percentile of the Laplacian's size over the
contrast (its standard deviation), on the channel with the most contrast. The bundled
photos score 2.15 and up, the same with a 4-pixel blur (at 256) 0.35 at most, the
sample's synthetic shapes as JPEGs 0.48 and up; under ``BLUR_MAX`` counts as blurred.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

TINY_SIDE = 64  # pixels, the shorter side
DARK_MEAN, BRIGHT_MEAN = 25.0, 235.0
FLAT_STD = 4.0
BLUR_MAX = 0.4
LINT_SIDE = 256
BLUR_SIDE = 128  # blur is judged at this size: JPEG's halved colour resolution is gone


def sharpness(grey: np.ndarray) -> float:
    """The 99th percentile of the 4-neighbour Laplacian's size over the contrast."""
    lap = (
        -4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    )
    return float(np.percentile(np.abs(lap), 99) / (grey.std() + 1.0))


def pixel_issue(pixels: np.ndarray) -> str | None:
    """The first problem of an image's pixels (RGB, any size), in words, or None.

    Contrast and sharpness are taken on the colour channel with the most contrast, so a red
    shape on a grey of the same brightness is neither flat nor blurred."""
    rgb = np.asarray(pixels, dtype=np.float64)
    channels = [rgb[..., c] for c in range(3)]
    if max(c.std() for c in channels) < FLAT_STD:
        return "near-constant (almost one flat colour)"
    brightness = rgb.mean()
    if brightness < DARK_MEAN:
        return "very dark"
    if brightness > BRIGHT_MEAN:
        return "very bright"
    small = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    small.thumbnail((BLUR_SIDE, BLUR_SIDE))
    shrunk = np.asarray(small, dtype=np.float64)
    if sharpness(max((shrunk[..., c] for c in range(3)), key=lambda c: c.std())) < BLUR_MAX:
        return "blurred"
    return None


def image_issue(path: Path, pixels: np.ndarray | None = None) -> str | None:
    """The first problem of one image, or None; ``pixels``, when given, are the image
    already decoded (any size), else it is decoded here at ``LINT_SIDE``."""
    with Image.open(path) as im:  # the header alone, unless decoded below
        if min(im.size) < TINY_SIDE:
            return f"tiny ({im.size[0]}×{im.size[1]} pixels)"
        # An upscaled copy looks blurred: small photos are judged at their own size.
        if pixels is None or max(pixels.shape[:2]) > max(im.size):
            rgb = im.convert("RGB")
            rgb.thumbnail((LINT_SIDE, LINT_SIDE))
            pixels = np.asarray(rgb)
    return pixel_issue(pixels)


def lint(paths: Sequence[Path], pixels: np.ndarray | None = None) -> list[tuple[int, str]]:
    """``(index, issue)`` for each image with a problem (``pixels``: them decoded already,
    as the run's ``load_pixels`` does)."""
    found = []
    for i, path in enumerate(paths):
        issue = image_issue(path, None if pixels is None else pixels[i])
        if issue:
            found.append((i, issue))
    return found


__all__ = ["image_issue", "lint", "pixel_issue", "sharpness"]
