"""Zips of class folders: good, messy and hostile ones, all generated here."""

import io
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from model_zoo.datasets import DatasetError, DatasetLimits, extract_dataset
from tests.conftest import encode


def photo(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    return encode(Image.fromarray(pixels), fmt)


def make_zip(entries: dict[str, bytes], **kwargs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, **kwargs) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def class_zip(classes=("cats", "dogs"), per_class=5, prefix="") -> dict[str, bytes]:
    return {
        f"{prefix}{c}/{i}.jpg": photo(k * 100 + i)
        for k, c in enumerate(classes)
        for i in range(per_class)
    }


@pytest.fixture
def job(tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    return folder


def assert_nothing_escaped(job):
    assert {p.name for p in job.parent.iterdir()} == {"job"}
    for path in job.rglob("*"):
        assert path.resolve().is_relative_to(job.resolve())
        assert not path.is_symlink()


def test_plain_class_folders(job):
    dataset = extract_dataset(make_zip(class_zip()), job)
    assert dataset.classes == ("cats", "dogs")
    assert dataset.counts == {"cats": 5, "dogs": 5}
    assert dataset.skipped == ()
    paths, labels = dataset.samples()
    assert len(paths) == 10 and labels.tolist() == [0] * 5 + [1] * 5
    assert all(p.is_file() and p.suffix == ".jpg" for p in paths)
    assert_nothing_escaped(job)


def test_messy_zip_is_understood(job):
    entries = class_zip(("Chats", "Hunde"), 5, prefix="my_data/")
    entries.update(
        {
            "my_data/Chats/UPPER.JPEG": photo(7),
            "my_data/Hunde/mixed.Png": photo(8, "PNG"),
            "my_data/Hunde/anim.gif": photo(9, "GIF"),
            "my_data/Hunde/scan.TIFF": photo(10, "TIFF"),
            "my_data/Füchse/0.webp": photo(11, "WEBP"),
            **{f"my_data/Füchse/{i}.bmp": photo(20 + i, "BMP") for i in range(1, 5)},
            "__MACOSX/my_data/Chats/._0.jpg": b"resource fork",
            "my_data/.DS_Store": b"finder",
            "my_data/Hunde/Thumbs.db": b"windows",
            "my_data/Chats/.hidden.jpg": photo(12),
            "my_data/Chats/broken.jpg": b"\xff\xd8\xff not really a jpeg",
            "my_data/Hunde/notes.txt": b"hello",
            "my_data/readme.md": b"about this dataset",
        }
    )
    dataset = extract_dataset(make_zip(entries), job)
    assert dataset.classes == ("Chats", "Füchse", "Hunde")
    assert dataset.counts == {"Chats": 6, "Füchse": 5, "Hunde": 8}
    skipped = dict(dataset.skipped)
    assert set(skipped) == {
        "my_data/Chats/broken.jpg",
        "my_data/Hunde/notes.txt",
        "my_data/readme.md",
    }
    assert "not a supported image" in skipped["my_data/Chats/broken.jpg"]
    assert skipped["my_data/Hunde/notes.txt"] == "not an image file type"
    assert skipped["my_data/readme.md"] == "not inside a class folder"
    assert_nothing_escaped(job)


def test_big_images_are_stored_smaller(job):
    entries = class_zip()
    entries["cats/big.png"] = photo(1, "PNG", size=(1200, 900))
    dataset = extract_dataset(make_zip(entries), job)
    sizes = [Image.open(p).size for p in dataset.files[0]]
    assert max(max(s) for s in sizes) == 512


def test_digest_follows_content(job, tmp_path):
    a = extract_dataset(make_zip(class_zip()), job)
    other = tmp_path / "other"
    other.mkdir()
    entries = class_zip()
    entries["dogs/0.jpg"] = photo(999)
    b = extract_dataset(make_zip(entries), other)
    assert a.digest and a.digest != b.digest


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in class_zip().items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("cats/link.jpg")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    return buf.getvalue()


def encrypted_flag_zip() -> bytes:
    """A zip whose entries say they are encrypted (bit 0 of the general-purpose flags)."""
    data = bytearray(make_zip(class_zip()))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] |= 0x01
            start = data.find(signature, start + 4)
    return bytes(data)


def bomb_zip() -> bytes:
    entries = class_zip()
    entries["cats/bomb.bmp"] = b"\x00" * (40 * 1024 * 1024)
    return make_zip(entries)


HOSTILE = {
    "zip-slip": (lambda: make_zip({**class_zip(), "../evil.jpg": photo(1)}), "outside"),
    "deep-slip": (lambda: make_zip({**class_zip(), "cats/../../evil.jpg": photo(1)}), "outside"),
    "absolute": (lambda: make_zip({**class_zip(), "/tmp/evil.jpg": photo(1)}), "absolute"),
    "drive-letter": (lambda: make_zip({**class_zip(), "C:/evil.jpg": photo(1)}), "absolute"),
    "backslash": (lambda: make_zip({**class_zip(), "cats\\..\\evil.jpg": photo(1)}), "backslash"),
    "nul": (lambda: make_zip({**class_zip(), "cats/evil\x01.jpg": photo(1)}), "control"),
    "symlink": (symlink_zip, "symbolic link"),
    "encrypted": (encrypted_flag_zip, "encrypted"),
    "bomb": (bomb_zip, "zip bomb"),
    "truncated": (lambda: make_zip(class_zip())[:-200], "not a zip file"),
    "not-a-zip": (lambda: photo(1), "not a zip file"),
    "empty": (lambda: b"", "empty"),
    "single-class": (lambda: make_zip(class_zip(("cats",))), "at least 2"),
    "too-few": (
        lambda: make_zip({**class_zip(("cats",)), "dogs/0.jpg": photo(5)}),
        r"at least 5 usable images; too few in 'dogs' \(1\)",
    ),
    "no-folders": (lambda: make_zip({f"{i}.jpg": photo(i) for i in range(6)}), "no class folders"),
    "nested-zip-only": (
        lambda: make_zip(
            {"cats/inner.zip": make_zip(class_zip()), "dogs/inner.zip": make_zip(class_zip())}
        ),
        "too few",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_or_unusable_zip_is_refused(case, job):
    build, reason = HOSTILE[case]
    with pytest.raises(DatasetError, match=reason) as info:
        extract_dataset(build(), job)
    assert "\n" not in str(info.value)
    assert_nothing_escaped(job)
    assert not (job.parent / "evil.jpg").exists()


def test_member_and_total_caps(job):
    data = make_zip(class_zip(per_class=6))
    with pytest.raises(DatasetError, match="entries; the limit is 5"):
        extract_dataset(data, job, DatasetLimits(max_members=5))
    with pytest.raises(DatasetError, match=r"more than 5 kB; that is the limit"):
        extract_dataset(data, job, DatasetLimits(max_total_bytes=5000))
    with pytest.raises(DatasetError, match="more than 8 images"):
        extract_dataset(data, job, DatasetLimits(max_images=8))
    with pytest.raises(DatasetError, match="3 class folders; the limit is 2"):
        extract_dataset(make_zip(class_zip(("a", "b", "c"))), job, DatasetLimits(max_classes=2))


def test_lying_header_is_caught_while_reading(job):
    """The central directory claims a small size; the real data is larger than the cap."""
    entries = class_zip()
    buf = io.BytesIO()
    big = photo(3, "BMP", size=(900, 900))  # ~2.4 MB, stored uncompressed
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        zf.writestr("cats/liar.bmp", big)
        zf.getinfo("cats/liar.bmp").file_size = 100  # what the central directory will say
    with pytest.raises(DatasetError, match=r"larger than its header says|damaged"):
        extract_dataset(buf.getvalue(), job, DatasetLimits(max_member_bytes=1_000_000))
    assert_nothing_escaped(job)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_only_raise_dataset_error(tmp_path_factory, data):
    job = tmp_path_factory.mktemp("job")
    try:
        extract_dataset(data, job)
    except DatasetError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("case", ["zip-slip", "absolute", "symlink", "nul", "bomb"])
def test_a_refusal_reason_does_not_repeat_refused(case, job):
    # The page says "**name.zip** refused: <reason>"; the reason must not say it again.
    build, _ = HOSTILE[case]
    with pytest.raises(DatasetError) as info:
        extract_dataset(build(), job)
    assert "refused" not in str(info.value)


def test_the_zip_itself_has_a_size_limit(job):
    data = make_zip(class_zip())
    with pytest.raises(DatasetError, match=r"the zip is [\d.]+ kB; the limit is 1 kB"):
        extract_dataset(data, job, DatasetLimits(max_zip_bytes=1000))


def test_limits_use_one_unit():
    from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB, MB, size_text

    limits = DatasetLimits()
    assert limits.max_member_bytes == MAX_PHOTO_MB * MB == 50_000_000
    assert limits.max_zip_bytes == MAX_UPLOAD_MB * MB
    assert size_text(limits.max_member_bytes) == "50 MB"  # it read "52 MB" in MiB
    assert size_text(limits.max_total_bytes) == "1 GB"
    assert size_text(1_500_000) == "1.5 MB" and size_text(999) == "999 bytes"
