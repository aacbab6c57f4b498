"""A dataset made in the page: classes named by the visitor, photos added one upload or one
camera shot at a time, or a dropped folder of class folders.

It ends as a zip of class folders (``PhotoSet.to_zip``) read by ``datasets.extract_dataset``
like any uploaded zip: the same decoder, caps and one-line reasons, and the download is that
very zip, so it uploads again to the same dataset.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from model_zoo.archive import IGNORED_DIRS, IGNORED_NAMES, DatasetError, DatasetLimits, write_zip
from model_zoo.images import IMAGE_EXTENSIONS
from model_zoo.limits import size_text

MAX_CLASS_NAME = 60  # characters


def class_name_problem(name: str, taken: tuple[str, ...] = ()) -> str | None:
    """Why ``name`` cannot name a class (it becomes a zip folder), or None."""
    if not name.strip():
        return "a class needs a name"
    if len(name) > MAX_CLASS_NAME:
        return f"a class name has at most {MAX_CLASS_NAME} characters"
    if "/" in name or "\\" in name:
        return "a class name cannot contain / or \\"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        return "a class name cannot contain control characters"
    if name.startswith(".") or name.lower() in IGNORED_DIRS | IGNORED_NAMES:
        return f"{name!r} is a name zip readers skip; pick another"
    if unicodedata.normalize("NFC", name) in taken:
        return f"there is already a class {name!r}"
    return None


def _entry_name(filename: str, taken: set[str]) -> str:
    """A photo's name inside its class folder: the upload's own last path part (data, never
    a path here), made unique in the class."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "photo"
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")[:100] or "photo"
    if base.startswith("."):
        base = "_" + base
    stem, suffix = PurePosixPath(base).stem, PurePosixPath(base).suffix
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    return name


@dataclass
class PhotoSet:
    """Classes and their photos' bytes, in the order the visitor made them.

    Attributes:
        classes: Class name → list of ``(file name, bytes)``.
        limits: The caps of an uploaded zip, which this set will become.
    """

    classes: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    limits: DatasetLimits = field(default_factory=DatasetLimits)

    @property
    def total_bytes(self) -> int:
        return sum(len(data) for photos in self.classes.values() for _, data in photos)

    @property
    def photo_count(self) -> int:
        return sum(len(photos) for photos in self.classes.values())

    def add_class(self, name: str) -> str:
        """Adds an empty class; returns its (NFC) name.

        Raises:
            DatasetError: the name cannot be used, or there are too many classes.
        """
        problem = class_name_problem(name, tuple(self.classes))
        if problem:
            raise DatasetError(problem)
        if len(self.classes) >= self.limits.max_classes:
            raise DatasetError(f"at most {self.limits.max_classes} classes")
        name = unicodedata.normalize("NFC", name.strip())
        self.classes[name] = []
        return name

    def remove_class(self, name: str) -> None:
        self.classes.pop(name, None)

    def add_photo(self, class_name: str, filename: str, data: bytes) -> str:
        """Adds one photo's bytes (checked when the set is read, like a zip entry).

        Returns:
            The photo's name in its class.

        Raises:
            DatasetError: unknown class, or a cap (photos, bytes) would be passed.
        """
        if class_name not in self.classes:
            raise DatasetError(f"there is no class {class_name!r}")
        if self.photo_count >= self.limits.max_images:
            raise DatasetError(f"at most {self.limits.max_images} photos in all")
        if self.total_bytes + len(data) > self.limits.max_zip_bytes:
            raise DatasetError(
                f"the photos would add up to more than {size_text(self.limits.max_zip_bytes)}"
            )
        photos = self.classes[class_name]
        name = _entry_name(filename, {n for n, _ in photos})
        photos.append((name, data))
        return name

    def remove_photo(self, class_name: str, index: int) -> None:
        photos = self.classes.get(class_name, [])
        if 0 <= index < len(photos):
            del photos[index]

    def add_folder(self, files: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
        """Adds a dropped folder of class folders: each file's path names its class (the
        folder right above it, below one wrapping folder). Returns what was skipped."""
        skipped: list[tuple[str, str]] = []
        for path, data in files:
            parts = PurePosixPath(path.replace("\\", "/")).parts
            parts = parts[1:] if len(parts) > 2 else parts  # the dropped folder itself
            if len(parts) < 2:
                skipped.append((path, "not inside a class folder"))
                continue
            if PurePosixPath(parts[-1]).suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append((path, "not an image file type"))
                continue
            name = unicodedata.normalize("NFC", parts[-2])
            try:
                if name not in self.classes:
                    self.add_class(name)
                self.add_photo(name, parts[-1], data)
            except DatasetError as err:
                skipped.append((path, str(err)))
        return skipped

    def to_zip(self) -> bytes:
        """The set as a zip of class folders (the same set, the same bytes)."""
        return write_zip(
            (f"{class_name}/{name}", data)
            for class_name, photos in self.classes.items()
            for name, data in photos
        )


__all__ = ["MAX_CLASS_NAME", "PhotoSet", "class_name_problem"]
