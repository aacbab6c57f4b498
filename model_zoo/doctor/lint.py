"""Quality lint of single images: tiny, very dark or very bright, blurred, near-constant.

Thresholds on the stored image (at most ``datasets.STORED_SIDE``), levels 0–255:
blur is the sharpness of the strongest edges: the 99th percentile of the Laplacian's size
on a 256-pixel grey copy, over the image's contrast (its standard deviation). The bundled
photos score 2.0–2.9, the same blurred with a 2-pixel Gaussian 0.20–0.28, and flat
synthetic shapes, sharp, 0.9 and up; under ``BLUR_MAX`` counts as blurred.
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


def sharpness(grey: np.ndarray) -> float:
    """The 99th percentile of the 4-neighbour Laplacian's size over the contrast."""
    lap = (
        -4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    )
    return float(np.percentile(np.abs(lap), 99) / (grey.std() + 1.0))


def image_issue(path: Path) -> str | None:
    """The first problem of one image, in words, or None.

    Contrast and sharpness are taken on the colour channel that has the most of them, so a
    red shape on a grey of the same brightness is neither flat nor blurred."""
    with Image.open(path) as im:
        if min(im.size) < TINY_SIDE:
            return f"tiny ({im.size[0]}×{im.size[1]} pixels)"
        rgb = im.convert("RGB")
    rgb.thumbnail((LINT_SIDE, LINT_SIDE))
    pixels = np.asarray(rgb, dtype=np.float64)
    channels = [pixels[..., c] for c in range(3)]
    if max(c.std() for c in channels) < FLAT_STD:
        return "near-constant (almost one flat colour)"
    brightness = pixels.mean()
    if brightness < DARK_MEAN:
        return "very dark"
    if brightness > BRIGHT_MEAN:
        return "very bright"
    if max(sharpness(c) for c in channels) < BLUR_MAX:
        return "blurred"
    return None


def lint(paths: Sequence[Path]) -> list[tuple[int, str]]:
    """``(index, issue)`` for each image with a problem."""
    found = []
    for i, path in enumerate(paths):
        issue = image_issue(path)
        if issue:
            found.append((i, issue))
    return found


__all__ = ["image_issue", "lint", "sharpness"]
