"""The zip rules: how an untrusted zip is opened and refused on its table of contents alone
(names, sizes, ratios, links, encryption, overlapping entries) before anything is read.
Datasets and zips of photos both read through here."""

from __future__ import annotations

import io
import itertools
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from model_zoo.images import MAX_BYTES
from model_zoo.limits import MAX_UPLOAD_MB, MB, size_text
from model_zoo.untrusted import UntrustedFileError, read_regular, regular_file

IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
IGNORED_DIRS = {"__macosx"}


class DatasetError(ValueError):
    """A zip that cannot be used; ``str()`` is a one-line reason for people."""


@dataclass(frozen=True)
class DatasetLimits:
    """Caps on an uploaded zip (README: "Dataset caps").

    Attributes:
        max_zip_bytes: The zip file itself (the app's upload limit).
        max_members: Entries in the archive, directories included.
        max_total_bytes: Sum of the declared uncompressed sizes, and of the bytes really read.
        max_member_bytes: One entry's uncompressed size.
        max_ratio: Uncompressed / compressed size of one entry (photos barely compress).
        min_images_per_class: Usable images each class needs.
        max_classes: Class folders.
        max_images: Usable images in all.
        max_total_megapixels: Pixels decoded in all (JPEGs are decoded straight at a reduced
            scale, so they count what was really decoded): a small zip of huge PNGs cannot
            buy minutes of CPU.
    """

    max_zip_bytes: int = MAX_UPLOAD_MB * MB
    max_members: int = 5000
    max_total_bytes: int = 1000 * MB
    max_member_bytes: int = MAX_BYTES
    max_ratio: float = 100.0
    min_images_per_class: int = 5
    max_classes: int = 50
    max_images: int = 3000
    max_total_megapixels: int = 1000


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _bad_name_reason(name: str) -> str | None:
    if not name:
        return "has an empty name"
    if "\x00" in name or any(unicodedata.category(ch) == "Cc" for ch in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "points outside the archive (..)"
    return None


def ignored(parts: tuple[str, ...]) -> bool:
    return (
        any(p.lower() in IGNORED_DIRS or p.startswith(".") for p in parts)
        or parts[-1].lower() in IGNORED_NAMES
    )


def inspect_entries(archive: zipfile.ZipFile, limits: DatasetLimits) -> list[zipfile.ZipInfo]:
    """Refuses the archive on its table of contents alone; returns the file entries."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise DatasetError(f"the zip has {len(infos)} entries; the limit is {limits.max_members}")
    total = 0
    files = []
    seen: set[str] = set()
    for info in infos:
        # zipfile cuts names at the first NUL; orig_filename is the name as stored.
        reason = _bad_name_reason(info.orig_filename)
        if reason:
            raise DatasetError(f"the entry {info.orig_filename!r} {reason}")
        if info.filename in seen:
            raise DatasetError(f"the zip lists the entry {info.filename!r} twice")
        seen.add(info.filename)
        if _is_symlink(info):
            raise DatasetError(f"the entry {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise DatasetError(
                f"the entry {info.filename!r} is encrypted; upload a zip without a password"
            )
        if info.is_dir():
            continue
        if info.file_size > limits.max_member_bytes:
            raise DatasetError(
                f"the entry {info.filename!r} is {size_text(info.file_size)} "
                f"uncompressed; the limit is {size_text(limits.max_member_bytes)}"
            )
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) and info.file_size > MB:
            raise DatasetError(
                f"the entry {info.filename!r} expands "
                f"{info.file_size / max(info.compress_size, 1):.0f}× (a zip "
                f"bomb?); the limit is {limits.max_ratio:.0f}×"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise DatasetError(
                f"the zip expands to more than {size_text(limits.max_total_bytes)}; "
                "that is the limit"
            )
        files.append(info)
    _refuse_overlaps(archive, infos)
    return files


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's structFileHeader, 30 bytes


def _refuse_overlaps(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Refuses entries whose bytes overlap (CVE-2024-0450: one stored photo listed many
    times decodes many times). Python 3.11's zipfile does not check this."""
    fp = archive.fp
    assert fp is not None
    end_of_data = archive.start_dir
    spans = []
    for info in infos:
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise DatasetError(f"the zip is damaged at {info.filename!r} (bad local header)")
        fields = _LOCAL_HEADER.unpack(header)
        start = info.header_offset
        spans.append(
            (start, start + _LOCAL_HEADER.size + fields[10] + fields[11] + info.compress_size, info)
        )
    spans.sort(key=lambda span: span[0])
    for (_, end, info), (start, _, after) in itertools.pairwise(spans):
        if start < end:
            raise DatasetError(
                f"the entries {info.filename!r} and {after.filename!r} overlap in the zip"
            )
    if spans and spans[-1][1] > end_of_data:
        raise DatasetError(f"the zip is damaged at {spans[-1][2].filename!r} (runs past its end)")


def open_archive(source: bytes | Path, limits: DatasetLimits) -> zipfile.ZipFile:
    data = _read_zip_file(source, limits) if isinstance(source, Path) else source
    if not data:
        raise DatasetError("the file is empty")
    if len(data) > limits.max_zip_bytes:
        raise DatasetError(
            f"the zip is {size_text(len(data))}; the limit is {size_text(limits.max_zip_bytes)}"
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except NotImplementedError as err:  # e.g. "zip file version 9.9"
        raise DatasetError(
            f"the zip needs a newer unzip than this server has ({err}); re-create it with "
            "your system's standard zip tool"
        ) from None
    except Exception:
        raise DatasetError("not a zip file, or a truncated or damaged one") from None


def _read_zip_file(path: Path, limits: DatasetLimits) -> bytes:
    """A zip given as a path: a regular file (never a FIFO or a device), read under the cap."""
    try:
        size = regular_file(path).stat().st_size
        if size > limits.max_zip_bytes:
            raise DatasetError(
                f"the zip is {size_text(size)}; the limit is {size_text(limits.max_zip_bytes)}"
            )
        return read_regular(path, limits.max_zip_bytes)
    except UntrustedFileError as err:
        raise DatasetError(str(err)) from None


# Entries dated 1980-01-01: the same photos make the same zip, byte for byte.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of ``(name, bytes)`` entries, stored (photos do not compress), dated alike."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, FIXED_TIME), data)
    return buf.getvalue()
