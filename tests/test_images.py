"""Decoding untrusted photos: every mode, EXIF, animation, formats and hostile input."""

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from model_zoo.images import ImageError, load_image, resize, thumbnail
from tests.conftest import encode

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def decoded(image: Image.Image, fmt: str = "PNG", **params) -> np.ndarray:
    out = load_image(encode(image, fmt, **params))
    assert out.dtype == np.uint8
    assert out.ndim == 3 and out.shape[2] == 3
    return out


@pytest.mark.parametrize(
    ("mode", "fill", "expected"),
    [
        ("RGB", RED, RED),
        ("L", 128, (128, 128, 128)),
        ("1", 1, WHITE),
        ("LA", (0, 0), WHITE),  # fully transparent black over white
        ("RGBA", (255, 0, 0, 255), RED),
        ("RGBA", (255, 0, 0, 0), WHITE),
        ("CMYK", (0, 0, 0, 0), WHITE),
        ("I;16", 65535, WHITE),
        ("I;16", 32896, (128, 128, 128)),
        ("I", 200, (200, 200, 200)),
        ("F", 255.0, WHITE),
    ],
)
def test_every_mode_becomes_rgb(mode, fill, expected):
    image = Image.new(mode, (6, 4), fill)
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    out = decoded(image, fmt)
    assert out.shape == (4, 6, 3)
    assert tuple(out[0, 0]) == expected


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 1)
    out = load_image(encode(image, "PNG", transparency=0))
    assert tuple(out[0, 0]) == BLUE
    assert tuple(out[1, 1]) == WHITE


def test_wide_range_float_image_is_rescaled():
    values = np.array([[-1000.0, 0.0], [500.0, 1000.0]], dtype=np.float32)
    out = load_image(encode(Image.fromarray(values, mode="F"), "TIFF"))
    assert out[0, 0, 0] == 0 and out[1, 1, 0] == 255


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_allowed_formats_decode(fmt):
    out = decoded(Image.new("RGB", (9, 7), RED), fmt)
    assert out.shape == (7, 9, 3)
    assert abs(int(out[3, 4, 0]) - 255) <= 8 and out[3, 4, 2] <= 8


@pytest.mark.parametrize(
    ("orientation", "shape", "red_corner"),
    [(1, (10, 20), (0, 0)), (3, (10, 20), (9, 19)), (6, (20, 10), (0, 9)), (8, (20, 10), (19, 0))],
)
def test_exif_orientation_is_applied(orientation, shape, red_corner):
    image = Image.new("RGB", (20, 10), BLUE)
    image.paste(RED, (0, 0, 4, 4))  # mark the top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(encode(image, "PNG", exif=exif))
    assert out.shape[:2] == shape
    y, x = red_corner
    assert tuple(out[y, x]) == RED


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, BLUE, (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert tuple(load_image(data)[4, 4]) == RED


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``: a decompression bomb's signature."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


def _truncated_jpeg() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=95)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"just some text, not a photo\n" * 5, "not a supported image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not a supported image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC/HEIF"),
        (_png_header_only(60_000, 60_000), "the limit is 40 megapixels"),
        (_truncated_jpeg(), "truncated"),
        (encode(Image.new("RGB", (32, 32), RED), "PNG")[:60], "not a usable image"),
    ],
    ids=["empty", "text", "eps", "heic", "pixel-bomb", "truncated-jpeg", "truncated-png"],
)
def test_bad_input_is_refused_with_a_reason(data, reason):
    with pytest.raises(ImageError, match=reason) as info:
        load_image(data)
    assert "\n" not in str(info.value)


def test_caps_are_settings():
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageError, match="100×100 pixels"):
        load_image(data, max_pixels=5_000)
    with pytest.raises(ImageError, match="limit is"):
        load_image(data, max_bytes=10)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape_as_another_error(data):
    try:
        out = load_image(data)
    except ImageError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert out.dtype == np.uint8 and out.shape[2] == 3


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.integers(min_value=8, max_value=2000))
def test_corrupted_png_bodies_are_refused_cleanly(noise, cut):
    data = bytearray(encode(Image.new("RGB", (40, 30), RED), "PNG"))
    data[cut % len(data) : cut % len(data) + len(noise)] = noise
    try:
        load_image(bytes(data))
    except ImageError as err:
        assert "\n" not in str(err)


def test_squash_keeps_the_whole_photo_and_crop_keeps_the_centre():
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, :100] = RED  # left third red, rest black
    squashed = resize(image, 50, "squash")
    cropped = resize(image, 50, "crop")
    assert squashed.shape == cropped.shape == (50, 50, 3)
    assert squashed.dtype == np.float32
    assert squashed[25, 2, 0] == pytest.approx(255, abs=1)  # the red band survives
    assert cropped[:, :, 0].max() == 0  # the centre square has no red in it


def test_resize_refuses_unknown_mode():
    with pytest.raises(ValueError, match="Unknown resize mode 'fit'"):
        resize(np.zeros((4, 4, 3), np.uint8), 8, "fit")


def test_thumbnail_keeps_proportions():
    assert thumbnail(np.zeros((400, 800, 3), np.uint8), 200).shape == (100, 200, 3)


def test_a_photo_over_50_mb_is_refused_in_the_units_of_the_readme():
    with pytest.raises(ImageError, match=r"^the file is 60 MB; the limit is 50 MB$"):
        load_image(b"\xff" * 60_000_000)


@pytest.mark.parametrize("shape", [(300, 451), (512, 512), (640, 427), (20, 900)])
def test_tiles_have_one_shape_whatever_the_photo(shape):
    from model_zoo.images import tile

    image = np.zeros((*shape, 3), dtype=np.uint8)
    assert tile(image, 320, 240).shape == (240, 320, 3)
