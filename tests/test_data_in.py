"""Data in: classes made in the page (PhotoSet), a dropped folder, the synthetic sample;
all end as a zip read by the one checked reader."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from model_zoo.archive import DatasetError, DatasetLimits
from model_zoo.datasets import extract_dataset
from model_zoo.photo_set import PhotoSet, class_name_problem
from model_zoo.sample import SAMPLE_CLASSES, SAMPLE_PER_CLASS, sample_zip
from tests.conftest import encode


def _photo(seed: int, fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)), fmt)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("cats", None),
        ("chats été 🐱", None),
        ("", "a class needs a name"),
        ("   ", "a class needs a name"),
        ("a/b", "a class name cannot contain / or \\"),
        ("..\\up", "a class name cannot contain / or \\"),
        (".hidden", "'.hidden' is a name zip readers skip; pick another"),
        ("__MACOSX", "'__MACOSX' is a name zip readers skip; pick another"),
        ("bell\x07", "a class name cannot contain control characters"),
        ("rtl\u202eevil", "a class name cannot contain control characters"),
        ("x" * 61, "a class name has at most 60 characters"),
        ("dogs", "there is already a class 'dogs'"),
    ],
)
def test_class_names_are_checked_as_data(name, problem):
    assert class_name_problem(name, ("dogs",)) == problem


def test_classes_made_in_the_page_read_back_as_the_same_dataset(tmp_path):
    photos = PhotoSet()
    for c, cls in enumerate(["cats", "dogs", "<b>birds"]):
        photos.add_class(cls)
        for i in range(5):
            photos.add_photo(
                cls, f"../../etc/{i}.jpg" if i == 0 else f"IMG_{i}.jpg", _photo(c * 10 + i)
            )
    photos.add_photo("cats", "notes.txt", b"not a photo")
    photos.add_photo("cats", "IMG_1.jpg", _photo(99))  # a second file of the same name
    dataset = extract_dataset(photos.to_zip(), tmp_path / "a")
    assert dataset.classes == ("<b>birds", "cats", "dogs")
    assert dataset.counts == {"<b>birds": 5, "cats": 6, "dogs": 5}
    assert [name for name, _ in dataset.skipped] == ["cats/notes.txt"]
    assert "cats/IMG_1-2.jpg" in dataset.entry_names()
    assert "cats/0.jpg" in dataset.entry_names()  # the upload's own name, never its path
    assert all(p.is_relative_to(tmp_path / "a") for p in dataset.samples()[0])
    # The download is that very zip: it uploads again to the same dataset.
    again = extract_dataset(photos.to_zip(), tmp_path / "b")
    assert (again.counts, again.digest) == (dataset.counts, dataset.digest)


def test_a_photo_set_stays_inside_the_zip_caps():
    limits = DatasetLimits(max_images=3, max_classes=2, max_zip_bytes=10_000)
    photos = PhotoSet(limits=limits)
    photos.add_class("a")
    photos.add_class("b")
    with pytest.raises(DatasetError, match="at most 2 classes"):
        photos.add_class("c")
    with pytest.raises(DatasetError, match="would add up to more than 10 kB"):
        photos.add_photo("a", "big.jpg", b"x" * 10_001)
    for i in range(3):
        photos.add_photo("a", f"{i}.jpg", b"x")
    with pytest.raises(DatasetError, match="at most 3 photos in all"):
        photos.add_photo("b", "more.jpg", b"x")
    with pytest.raises(DatasetError, match="there is no class 'zz'"):
        photos.add_photo("zz", "x.jpg", b"x")
    photos.remove_photo("a", 0)
    photos.remove_photo("a", 99)  # out of range: nothing
    assert photos.photo_count == 2


def test_too_few_photos_in_a_made_class_get_the_zip_reasons(tmp_path):
    photos = PhotoSet()
    for cls, n in (("cats", 5), ("dogs", 2)):
        photos.add_class(cls)
        for i in range(n):
            photos.add_photo(cls, f"{i}.png", _photo(i, "PNG"))
    with pytest.raises(DatasetError, match=r"at least 5 usable images; too few in 'dogs' \(2\)"):
        extract_dataset(photos.to_zip(), tmp_path)


@pytest.mark.parametrize(
    ("paths", "classes", "skipped"),
    [
        (["shots/cats/1.jpg", "shots/dogs/2.jpg"], {"cats": 1, "dogs": 1}, []),
        (["shots/wrap/cats/1.jpg", "shots/wrap/dogs/2.jpg"], {"cats": 1, "dogs": 1}, []),
        (["shots/1.jpg", "shots/cats/2.jpg"], {"shots": 1, "cats": 1}, []),
        (["lonely.jpg", "shots/cats/readme.md"], {}, ["lonely.jpg", "shots/cats/readme.md"]),
    ],
)
def test_a_dropped_folder_names_classes_by_its_sub_folders(paths, classes, skipped):
    photos = PhotoSet()
    got = photos.add_folder([(p, b"bytes") for p in paths])
    assert {c: len(p) for c, p in photos.classes.items()} == classes
    assert [name for name, _ in got] == skipped


def test_the_sample_is_synthetic_seeded_and_trainable_shaped(tmp_path):
    first, again = sample_zip(), sample_zip()
    assert first == again  # the same seed, the same bytes
    assert sample_zip(seed=1) != first
    dataset = extract_dataset(first, tmp_path)
    assert dataset.classes == tuple(sorted(SAMPLE_CLASSES))
    assert set(dataset.counts.values()) == {SAMPLE_PER_CLASS}
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert all(n.split("/")[0] in SAMPLE_CLASSES for n in archive.namelist())
