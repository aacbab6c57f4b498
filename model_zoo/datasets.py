"""Turning an untrusted zip of class folders into a clean image dataset on disk.

Follows docs/RELIABILITY.md: the zip is opened under ``archive``'s rules, real bytes are
counted while reading, every image is decoded safely, and files are written only under
generated names inside the job's own folder.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from model_zoo.archive import (
    DatasetError,
    DatasetLimits,
    ignored,
    inspect_entries,
    open_archive,
)
from model_zoo.children import error_line
from model_zoo.images import IMAGE_EXTENSIONS, ImageError, decoded_pixels, load_image
from model_zoo.limits import size_text

STORED_SIDE = 512  # images are kept at most this large: enough for 299-pixel models


@dataclass(frozen=True)
class Dataset:
    """A checked dataset: class folders of normalised JPEGs under ``root``.

    Attributes:
        root: Folder holding ``class_000/…`` sub-folders (generated names).
        classes: Class names as the zip spelled them, sorted; index = label.
        files: For each class, its image paths under ``root``.
        skipped: ``(member name, reason)`` for files that were not usable images.
        digest: Content hash of the usable images and their labels (a cache key).
        names: For each class, its images' entry names in the zip (data for reports,
            never paths); empty where unknown.
    """

    root: Path
    classes: tuple[str, ...]
    files: tuple[tuple[Path, ...], ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    digest: str = ""
    names: tuple[tuple[str, ...], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (for a child process), read back by ``from_dict``."""
        return {
            "root": str(self.root),
            "classes": list(self.classes),
            "files": [[str(p) for p in files] for files in self.files],
            "skipped": [list(s) for s in self.skipped],
            "digest": self.digest,
            "names": [list(n) for n in self.names],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dataset:
        return cls(
            Path(data["root"]),
            tuple(data["classes"]),
            tuple(tuple(Path(p) for p in files) for files in data["files"]),
            tuple((str(name), str(why)) for name, why in data["skipped"]),
            data["digest"],
            tuple(tuple(str(n) for n in names) for names in data.get("names", [])),
        )

    def entry_names(self) -> list[str]:
        """Every image's entry name in the zip, in ``samples()`` order (stored names where
        the zip's are unknown)."""
        if self.names:
            return [n for class_names in self.names for n in class_names]
        return [str(p.relative_to(self.root)) for class_files in self.files for p in class_files]

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(paths) for name, paths in zip(self.classes, self.files, strict=True)}

    @property
    def size(self) -> int:
        return sum(len(paths) for paths in self.files)

    def samples(self) -> tuple[list[Path], np.ndarray]:
        """All image paths and their integer labels, class by class."""
        paths = [p for class_files in self.files for p in class_files]
        labels = np.concatenate(
            [np.full(len(f), i, dtype=np.int64) for i, f in enumerate(self.files)]
        )
        return paths, labels

    def imbalance(self) -> float:
        """Largest class size / smallest class size."""
        sizes = [len(f) for f in self.files]
        return max(sizes) / min(sizes)


def _class_layout(
    files: list[zipfile.ZipInfo],
) -> tuple[dict[str, list[zipfile.ZipInfo]], list[tuple[str, str]]]:
    """Groups entries by class folder, unwrapping one common root folder."""
    kept = [(info, PurePosixPath(info.filename).parts) for info in files]
    kept = [(info, parts) for info, parts in kept if not ignored(parts)]
    skipped: list[tuple[str, str]] = []
    # One wrapping folder (my_data/cats/…): every entry under the same first folder, and
    # some of them one level deeper still (else that folder is the only class).
    while (
        kept
        and len({parts[0] for _, parts in kept}) == 1
        and all(len(parts) >= 2 for _, parts in kept)
        and any(len(parts) > 2 for _, parts in kept)
    ):
        kept = [(info, parts[1:]) for info, parts in kept]
    classes: dict[str, list[zipfile.ZipInfo]] = {}
    for info, parts in kept:
        if len(parts) < 2:
            skipped.append((info.filename, "not inside a class folder"))
            continue
        classes.setdefault(unicodedata.normalize("NFC", parts[0]), []).append(info)
    return classes, skipped


def extract_dataset(
    source: bytes | Path, workdir: Path, limits: DatasetLimits | None = None
) -> Dataset:
    """Checks a zip of class folders and writes its usable images under ``workdir``.

    Args:
        source: The zip's bytes, or a path to it.
        workdir: The job's own (existing, empty) temporary folder; nothing is written
            elsewhere.
        limits: Caps; defaults to ``DatasetLimits()``.

    Raises:
        DatasetError: the archive is refused or unusable (the message says why). Every
            other exception met while reading the archive (a corrupt deflate, LZMA or
            bzip2 stream, a malformed header) becomes one too.
    """
    limits = limits or DatasetLimits()
    try:
        return _extract(source, workdir, limits)
    except DatasetError:
        raise
    except MemoryError:
        raise DatasetError("the zip needs more memory than the server can give it") from None
    except Exception as err:  # hostile archives reach corners of zipfile, zlib, lzma, bz2
        raise DatasetError(f"the zip could not be read ({error_line(err, limit=200)})") from None


def zip_photos(
    source: bytes | Path, limits: DatasetLimits | None = None
) -> Iterator[tuple[str, np.ndarray | None, str]]:
    """The photos of a zip (any folders), one at a time, under the same rules as datasets:
    ``(name, image, "")`` for a usable photo (RGB uint8, at most ``STORED_SIDE``), or
    ``(name, None, why)``. Nothing is written to disk.

    Raises:
        DatasetError: the archive is refused (the message says why), also midway.
    """
    limits = limits or DatasetLimits()
    try:
        archive = open_archive(source, limits)
        with archive:
            files = [
                i
                for i in inspect_entries(archive, limits)
                if not ignored(PurePosixPath(i.filename).parts)
            ]
            decoder = _Decoder(archive, limits)
            for info in sorted(files, key=lambda i: i.filename):
                image, why, _ = decoder.decode(info)
                yield info.filename, image, why
    except DatasetError:
        raise
    except MemoryError:
        raise DatasetError("the zip needs more memory than the server can give it") from None
    except Exception as err:  # hostile archives reach corners of zipfile, zlib, lzma, bz2
        raise DatasetError(f"the zip could not be read ({error_line(err, limit=200)})") from None


def _extract(source: bytes | Path, workdir: Path, limits: DatasetLimits) -> Dataset:
    archive = open_archive(source, limits)
    with archive:
        files = inspect_entries(archive, limits)
        classes, skipped = _class_layout(files)
        if not classes:
            raise DatasetError(
                "no class folders found: put each class's images in its own "
                "folder (cats/…, dogs/…) and zip those folders"
            )
        if len(classes) > limits.max_classes:
            raise DatasetError(f"{len(classes)} class folders; the limit is {limits.max_classes}")
        root = (workdir / "data").resolve()
        names = sorted(classes)
        written: list[list[Path]] = []
        entry_names: list[tuple[str, ...]] = []
        decoder = _Decoder(archive, limits)
        hasher = hashlib.blake2b(digest_size=16)
        for index, name in enumerate(names):
            folder = root / f"class_{index:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            paths: list[Path] = []
            kept: list[str] = []
            for info in sorted(classes[name], key=lambda i: i.filename):
                image, why, raw = decoder.decode(info)
                if image is None:
                    skipped.append((info.filename, why))
                    continue
                target = folder / f"{len(paths):05d}.jpg"
                _confine(target, workdir)
                _store(image, target)
                hasher.update(f"{index}:".encode() + hashlib.blake2b(raw).digest())
                paths.append(target)
                kept.append(info.filename)
            written.append(paths)
            entry_names.append(tuple(kept))
    counts = {name: len(paths) for name, paths in zip(names, written, strict=True)}
    too_few = [n for n, c in counts.items() if c < limits.min_images_per_class]
    if too_few:
        listed = ", ".join(f"{n!r} ({counts[n]})" for n in too_few[:5])
        raise DatasetError(
            f"each class needs at least {limits.min_images_per_class} usable "
            f"images; too few in {listed}"
        )
    if len(names) < 2:
        raise DatasetError(f"only one class folder ({names[0]!r}); at least 2 are needed")
    return Dataset(
        root,
        tuple(names),
        tuple(tuple(p) for p in written),
        tuple(skipped),
        hasher.hexdigest(),
        tuple(entry_names),
    )


class _Decoder:
    """Reads and decodes a zip's entries one by one, under the limits they share: bytes
    really read, megapixels decoded, usable images."""

    def __init__(self, archive: zipfile.ZipFile, limits: DatasetLimits) -> None:
        self.archive, self.limits = archive, limits
        self.budget = limits.max_total_bytes
        self.pixels_left = limits.max_total_megapixels * 1_000_000
        self.usable = 0

    def decode(self, info: zipfile.ZipInfo) -> tuple[np.ndarray | None, str, bytes]:
        """(image, "", raw bytes) for a usable photo, else (None, why, raw bytes read).

        Raises:
            DatasetError: a shared limit is passed, or the entry cannot be read.
        """
        limits = self.limits
        if PurePosixPath(info.filename).suffix.lower() not in IMAGE_EXTENSIONS:
            return None, "not an image file type", b""
        raw = _read_member(self.archive, info, limits, self.budget)
        self.budget -= len(raw)
        self.pixels_left -= decoded_pixels(raw, STORED_SIDE)
        if self.pixels_left < 0:
            raise DatasetError(
                f"the photos add up to more than {limits.max_total_megapixels:,} "
                "megapixels to decode; that is the limit (smaller photos, or fewer)"
            )
        try:
            image = load_image(raw, max_bytes=limits.max_member_bytes, max_side=STORED_SIDE)
        except ImageError as err:
            return None, str(err), raw
        self.usable += 1
        if self.usable > limits.max_images:
            raise DatasetError(f"more than {limits.max_images} images; that is the limit")
        return image, "", raw


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: DatasetLimits, budget: int
) -> bytes:
    """Reads one entry, counting real bytes: headers can lie about sizes."""
    cap = min(limits.max_member_bytes, budget)
    try:
        with archive.open(info) as member:
            raw = member.read(cap + 1)
    except NotImplementedError as err:  # a RuntimeError too: before the encrypted case
        raise DatasetError(
            f"the entry {info.filename!r} uses a compression method this server cannot "
            f"read ({err}); re-create the zip with the standard one (deflate)"
        ) from None
    except RuntimeError as err:
        if "encrypt" in str(err).lower() or "password" in str(err).lower():
            raise DatasetError(f"the entry {info.filename!r} is encrypted") from None
        raise DatasetError(f"the zip is damaged at {info.filename!r} ({err})") from None
    except Exception as err:  # zlib.error, lzma.LZMAError, OSError, EOFError, BadZipFile
        raise DatasetError(
            f"the zip is damaged at {info.filename!r} ({error_line(err, limit=200)})"
        ) from None
    if len(raw) > cap:
        if cap < limits.max_member_bytes:
            raise DatasetError(
                f"the zip expands to more than {size_text(limits.max_total_bytes)}; "
                "that is the limit"
            )
        raise DatasetError(
            f"the entry {info.filename!r} is larger than its header says "
            f"(over {size_text(limits.max_member_bytes)})"
        )
    return raw


def _store(image: np.ndarray, target: Path) -> None:
    """Writes a decoded image as a JPEG no larger than ``STORED_SIDE``."""
    im = Image.fromarray(image)
    im.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    im.save(target, "JPEG", quality=92)


def _confine(path: Path, workdir: Path) -> None:
    base = workdir.resolve()
    if Path(os.path.commonpath([base, path.resolve()])) != base:  # belt and braces
        raise DatasetError("a file would be written outside the job folder")


__all__ = [
    "STORED_SIDE",
    "Dataset",
    "DatasetError",
    "DatasetLimits",
    "extract_dataset",
    "zip_photos",
]
