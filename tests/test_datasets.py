"""Zips of class folders: good, messy and hostile ones, all generated here."""

import io
import struct
import warnings
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


def entry_data_offset(data: bytes, name: str) -> int:
    """Where an entry's compressed bytes start (after its local header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    n, e = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + n + e


def corrupt_stream_zip(method: int) -> bytes:
    entries = class_zip()
    data = bytearray(_zip_with(entries, method))
    start = entry_data_offset(bytes(data), "cats/0.jpg")
    data[start : start + 40] = b"\xff" * 40  # not a valid deflate / LZMA / bzip2 stream
    return bytes(data)


def _zip_with(entries: dict[str, bytes], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def central_field_zip(offset: int, value: bytes) -> bytes:
    """A good zip with one byte field of the first central-directory entry overwritten."""
    data = bytearray(make_zip(class_zip()))
    start = data.find(b"PK\x01\x02")
    data[start + offset : start + offset + len(value)] = value
    return bytes(data)


def renamed_zip(old: bytes, new: bytes) -> bytes:
    """A zip whose stored name ``old`` becomes ``new`` (same length) in both headers."""
    assert len(old) == len(new)
    return make_zip({**class_zip(), old.decode(): photo(7)}).replace(old, new)


def with_central_records(base: bytes, records: list[bytes]) -> bytes:
    """``base`` with more central-directory records appended (and its end record fixed)."""
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        count, start_dir = len(zf.infolist()), zf.start_dir
    body, central = base[:start_dir], base[start_dir : base.find(b"PK\x05\x06")]
    central += b"".join(records)
    total = count + len(records)
    tail = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, total, total, len(central), len(body), 0)
    return body + central + tail


def central_record(data: bytes, name: str) -> bytes:
    at = data.find(b"PK\x01\x02")
    while at >= 0 and data[at + 46 : at + 46 + len(name)] != name.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    (name_len, extra) = struct.unpack("<HH", data[at + 28 : at + 32])
    return data[at : at + 46 + name_len + extra]


def aliased_zip(copies: int) -> bytes:
    """The attack from the issue: one stored photo listed ``copies`` more times in the
    central directory under its own name, so each listing decodes it again."""
    base = make_zip(class_zip())
    return with_central_records(base, [central_record(base, "cats/0.jpg")] * copies)


def nested_overlap_zip() -> bytes:
    """CVE-2024-0450: an entry whose stored bytes hold a whole second entry (local header
    and data) that the central directory also lists: the two byte ranges overlap."""
    inner = _zip_with({"dogs/in.jpg": photo(9)}, zipfile.ZIP_STORED)
    inner_record = central_record(inner, "dogs/in.jpg")
    local = inner[: inner.find(b"PK\x01\x02")]
    outer = _zip_with({**class_zip(), "cats/wrap.jpg": local}, zipfile.ZIP_STORED)
    offset = entry_data_offset(outer, "cats/wrap.jpg")
    record = inner_record[:42] + struct.pack("<L", offset) + inner_record[46:]
    return with_central_records(outer, [record])


CORRUPT = {
    "deflate": (lambda: corrupt_stream_zip(zipfile.ZIP_DEFLATED), "damaged at 'cats/0.jpg'"),
    "lzma": (lambda: corrupt_stream_zip(zipfile.ZIP_LZMA), "damaged at 'cats/0.jpg'"),
    "bzip2": (lambda: corrupt_stream_zip(zipfile.ZIP_BZIP2), "damaged at 'cats/0.jpg'"),
    "version": (lambda: central_field_zip(6, b"\x63"), "needs a newer unzip"),
    "method": (lambda: central_field_zip(10, b"\x63\x00"), "compression method"),
    "empty-name": (lambda: renamed_zip(b"cats/Xe.jpg", b"\x00ats/Xe.jpg"), "control characters"),
    "nul-inside": (lambda: renamed_zip(b"cats/e.jpgX", b"cats/e.jpg\x00"), "control characters"),
    "aliases": (lambda: aliased_zip(50), "lists the entry 'cats/0.jpg' twice"),
    "overlap": (nested_overlap_zip, "'cats/wrap.jpg' and 'dogs/in.jpg' overlap"),
    "duplicate": (lambda: duplicate_zip(), "twice"),
}


def duplicate_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name"
        for name, data in class_zip().items():
            zf.writestr(name, data)
        for _ in range(3):
            zf.writestr("cats/0.jpg", photo(1))
    return buf.getvalue()


@pytest.mark.parametrize("case", list(CORRUPT))
def test_broken_and_tricky_archives_give_one_line_reasons(case, job):
    build, reason = CORRUPT[case]
    with pytest.raises(DatasetError, match=reason) as info:
        extract_dataset(build(), job)
    assert "\n" not in str(info.value)
    assert_nothing_escaped(job)


def test_decoding_is_bounded_by_pixels_not_by_files(job):
    data = make_zip(class_zip(per_class=6))  # 12 photos of 40×30 = 1,200 pixels
    limits = DatasetLimits(max_total_megapixels=0)
    with pytest.raises(DatasetError, match="more than 0 megapixels to decode"):
        extract_dataset(data, job, limits)
    big = {
        f"{c}/{i}.png": encode(Image.new("RGB", (2000, 2000)), "PNG")
        for c in "ab"
        for i in range(5)
    }
    with pytest.raises(DatasetError, match="more than 30 megapixels"):  # 10 × 4 MP of PNG
        extract_dataset(make_zip(big), job, DatasetLimits(max_total_megapixels=30))


def test_large_jpegs_are_decoded_at_a_reduced_scale(job):
    from model_zoo.images import decoded_pixels

    jpeg = encode(Image.new("RGB", (4000, 3000), (200, 30, 30)), "JPEG")
    assert decoded_pixels(jpeg) == 12_000_000
    assert decoded_pixels(jpeg, 512) == 1000 * 750  # 1/4 scale, still larger than 512
    entries = {f"{c}/{i}.jpg": jpeg for c in "ab" for i in range(5)}
    dataset = extract_dataset(make_zip(entries), job, DatasetLimits(max_total_megapixels=10))
    assert dataset.size == 10
    assert Image.open(dataset.files[0][0]).size == (512, 384)
