"""Exact and near duplicates among a dataset's stored images, and keeping each group of
copies on one side of the split.

Three signals, measured on the sample's synthetic shapes (``tests/test_doctor.py`` plants
copies):

- the same bytes (BLAKE2 of the stored JPEG: two uploads of one file);
- the cosine of centred 16×16 colour thumbnails at ``THUMB_MIN`` or above: re-encoded,
  resized and one-pixel-shifted copies scored ≥ 0.977, distinct photos ≤ 0.923;
- ``imagehash.phash`` within ``PHASH_MAX`` bits of 64, with thumbnails at least
  ``PHASH_THUMB_MIN`` alike: re-encoded or resized copies came within 6 bits, but so did
  two distinct flat pictures (thumbnail cosine 0.70), and a one-pixel shift moved a flat
  image's hash by up to 32 bits; so the hash backs the thumbnails up (brightness or colour
  changes) and never decides alone.

Backbone features are not used for this: on random weights a shifted copy (0.9987–0.9996)
and the nearest other photo (0.9979–0.9989) are too close to tell apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from model_zoo.datasets import Dataset

PHASH_MAX = 6
THUMB_MIN = 0.96
PHASH_THUMB_MIN = 0.85
THUMB_SIDE = 16


def fingerprints(paths: Sequence[Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each image's content hash, perceptual hash (64 bits as uint64) and unit thumbnail."""
    import imagehash

    digests, hashes, thumbs = [], [], []
    for path in paths:
        raw = path.read_bytes()
        digests.append(hashlib.blake2b(raw, digest_size=16).hexdigest())
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        bits = imagehash.phash(rgb).hash.ravel()
        hashes.append(int("".join("1" if b else "0" for b in bits), 2))
        thumb = np.asarray(rgb.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX), float)
        thumb = thumb.ravel() - thumb.mean()
        thumbs.append(thumb / (np.linalg.norm(thumb) + 1e-9))
    return digests, np.array(hashes, dtype=np.uint64), np.array(thumbs).reshape(len(paths), -1)


def _hamming(hashes: np.ndarray) -> np.ndarray:
    """Pairwise bit differences of 64-bit hashes, ``(N, N)``."""
    as_bytes = hashes.view(np.uint8).reshape(len(hashes), 8)
    bits = np.unpackbits(as_bytes, axis=1).astype(np.int16)  # (N, 64)
    return bits.sum(1)[:, None] + bits.sum(1)[None, :] - 2 * (bits @ bits.T)


def duplicate_groups(paths: Sequence[Path]) -> list[list[int]]:
    """Groups (two or more indices into ``paths``, sorted) of exact or near copies.

    Pairs are joined transitively: a copy of a copy is in the same group.
    """
    n = len(paths)
    if n < 2:
        return []
    digests, hashes, thumbs = fingerprints(paths)
    same = np.array(digests)[:, None] == np.array(digests)[None, :]
    cosine = thumbs @ thumbs.T
    close = (_hamming(hashes) <= PHASH_MAX) & (cosine >= PHASH_THUMB_MIN)
    linked = same | close | (cosine >= THUMB_MIN)
    np.fill_diagonal(linked, False)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


_GROUPS: OrderedDict[str, list[list[int]]] = OrderedDict()
_GROUPS_LOCK = threading.Lock()


def copy_groups(dataset: Dataset) -> list[list[int]]:
    """``duplicate_groups`` of a dataset's images (``samples()`` order), kept for the last
    few datasets (the page's split preview asks on every rerun) and in a file beside the
    dataset, where the doctor's child leaves them for the training child."""
    key = f"{dataset.digest}:{dataset.root}"
    with _GROUPS_LOCK:
        if key in _GROUPS:
            _GROUPS.move_to_end(key)
            return _GROUPS[key]
    file = dataset.root.parent / "features" / f"copies-{dataset.digest or 'unnamed'}.json"
    try:
        groups = [[int(i) for i in g] for g in json.loads(file.read_text())]
    except (OSError, ValueError, TypeError):
        groups = duplicate_groups(dataset.samples()[0])
        with contextlib.suppress(OSError):
            file.parent.mkdir(exist_ok=True)
            file.write_text(json.dumps(groups))
    with _GROUPS_LOCK:
        _GROUPS[key] = groups
        while len(_GROUPS) > 8:
            _GROUPS.popitem(last=False)
    return groups


def keep_together(
    parts: dict[str, np.ndarray], groups: list[list[int]], labels: np.ndarray
) -> dict[str, np.ndarray]:
    """Moves each group that straddles parts into one part: where most of it already is,
    ties to the first part (train). A move that would leave a class without an image in
    some part is not made.

    Args:
        parts: Part name → sorted indices, in order (train, validation, test).
        groups: ``duplicate_groups``.
        labels: Each index's class.

    Returns:
        The parts after the moves (new arrays).
    """
    where = {int(i): name for name, idx in parts.items() for i in idx}
    order = list(parts)
    counts = Counter((where[i], int(labels[i])) for i in where)
    for group in groups:
        members = [i for i in group if i in where]
        sides = [where[i] for i in members]
        if len(set(sides)) < 2:
            continue
        target = max(order, key=lambda p: (sides.count(p), -order.index(p)))
        change: Counter[tuple[str, int]] = Counter()
        for i in members:
            change[(where[i], int(labels[i]))] -= 1
            change[(target, int(labels[i]))] += 1
        if all(counts[key] + delta > 0 for key, delta in change.items() if delta < 0):
            counts.update(change)
            where.update({i: target for i in members})
    return {
        name: np.array(sorted(i for i, p in where.items() if p == name), dtype=np.int64)
        for name in order
    }


def leaks(
    parts: dict[str, np.ndarray], groups: list[list[int]]
) -> list[tuple[list[int], list[str]]]:
    """The groups whose members fall in different parts: (indices, each one's part)."""
    where = {int(i): name for name, idx in parts.items() for i in idx}
    found = []
    for group in groups:
        sides = [where.get(i, "") for i in group]
        if len(set(sides)) > 1:
            found.append((group, sides))
    return found


__all__ = [
    "PHASH_MAX",
    "THUMB_MIN",
    "copy_groups",
    "duplicate_groups",
    "fingerprints",
    "keep_together",
    "leaks",
]
