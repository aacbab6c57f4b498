"""Safe decoding of untrusted photos into RGB arrays, and resizing for a model.

Follows docs/RELIABILITY.md: an allowlist of formats, the pixel count checked before any
pixel is decoded, EXIF orientation applied, every mode converted explicitly, frame 0 only.
"""

from __future__ import annotations

import io
import warnings
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model_zoo.children import error_line
from model_zoo.limits import MAX_PHOTO_MB, MAX_PIXELS, MB, size_text
from model_zoo.runtime import release_free_memory

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Which zip entries are read as photos (the uploaders take any file; the bytes decide).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_BYTES = MAX_PHOTO_MB * MB
# The longest side kept after decoding a photo for Compare, Explain and the CLI: no model
# needs more than 299 px, and this is a sharp display copy. A 40-megapixel upload would
# otherwise hold 120 MB per copy.
DISPLAY_SIDE = 1024
_TRIM_AFTER_PIXELS = 4_000_000

ResizeMode = Literal["squash", "crop"]
RESIZE_MODES: tuple[ResizeMode, ...] = ("squash", "crop")

# Every exception Pillow is known to raise on hostile or broken input.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    MemoryError,
    NotImplementedError,
    OverflowError,
    Image.DecompressionBombError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    ZeroDivisionError,
)


class ImageError(ValueError):
    """An input that is not a usable image; ``str()`` is a one-line reason for people."""


def _looks_like_heic(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc")


def load_image(
    data: bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    max_side: int | None = None,
) -> np.ndarray:
    """Decodes image bytes into an ``(H, W, 3)`` uint8 RGB array.

    Args:
        data: The file's bytes.
        max_pixels: Largest width * height accepted (checked before decoding pixels).
        max_bytes: Largest file accepted.
        max_side: Longest side kept: larger photos are scaled down right after decoding
            (JPEGs are decoded straight at 1/2, 1/4 or 1/8 scale when that is still larger),
            so no full-size copy is kept.

    Raises:
        ImageError: empty, too large, truncated, corrupt or not an allowed format.
    """
    if not data:
        raise ImageError("the file is empty")
    if len(data) > max_bytes:
        raise ImageError(f"the file is {size_text(len(data))}; the limit is {size_text(max_bytes)}")
    if _looks_like_heic(data):
        raise ImageError("HEIC/HEIF photos are not supported; export the photo as JPEG or PNG")
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; our own cap decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as im:
                width, height = im.size
                if width < 1 or height < 1:
                    raise ImageError("the image has no pixels")
                if width * height > max_pixels:
                    raise ImageError(
                        f"the image is {width}×{height} pixels; the limit is "
                        f"{max_pixels / 1e6:.0f} megapixels"
                    )
                im.seek(0)  # animated GIF/WebP/APNG: first frame only
                if max_side is not None:
                    im.draft("RGB", (max_side, max_side))
                im.load()
                rgb = _to_rgb(ImageOps.exif_transpose(im))
                if max_side is not None and max(rgb.size) > max_side:
                    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            "not a supported image; expected JPEG, PNG, WebP, GIF, BMP or TIFF"
        ) from None
    except Image.DecompressionBombError:
        raise ImageError(
            f"the image is too large; the limit is {max_pixels / 1e6:.0f} megapixels"
        ) from None
    except _DECODE_ERRORS as err:
        reason = error_line(err, with_type=False)
        if "truncated" in reason.lower() or isinstance(err, EOFError):
            reason = "the file is truncated"
        raise ImageError(f"not a usable image ({reason})") from None
    array = np.asarray(rgb, dtype=np.uint8)
    if width * height >= _TRIM_AFTER_PIXELS:
        # The full-size decode is gone, but glibc keeps large freed blocks in the arena of
        # the thread that decoded (every Streamlit run has its own): hand them back.
        release_free_memory()
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"not a usable image (decoded to shape {array.shape})")
    return array


def decoded_pixels(data: bytes, max_side: int | None = None) -> int:
    """How many pixels ``load_image(data, max_side=max_side)`` will decode, read from the
    header alone (0 when the header is unreadable: ``load_image`` then says why)."""
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as im:
            if max_side is not None:
                im.draft("RGB", (max_side, max_side))
            width, height = im.size
    except Exception:  # the decoder itself reports what is wrong with the file
        return 0
    return width * height


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
        if mode == "RGB":
            return im
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I") or mode.startswith("F"):
        return Image.fromarray(_to_uint8(np.asarray(im), mode)).convert("RGB")
    # 1, L, CMYK, YCbCr, HSV: Pillow knows these conversions.
    return im.convert("RGB")


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Rescales 16-bit, 32-bit integer or float greyscale to 8 bits."""
    values = values.astype(np.float64)
    if mode.startswith("I;16"):
        scaled = values / 257.0
    else:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if lo >= 0 and hi <= 255:
            scaled = values
        elif lo >= 0 and hi <= 65535:
            scaled = values / 257.0
        else:
            scaled = (values - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(values)
    return np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)


def resize(
    image: np.ndarray, size: int | tuple[int, int], mode: ResizeMode = "squash"
) -> np.ndarray:
    """Resizes an RGB array for a model.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        size: Output side, or ``(height, width)``.
        mode: ``"squash"`` stretches the whole photo (Keras' ``load_img`` default);
            ``"crop"`` takes the largest centred square first, keeping proportions.

    Returns:
        ``(height, width, 3)`` float32 array of raw 0-255 pixels (no preprocessing).

    Raises:
        ValueError: unknown ``mode``.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"Unknown resize mode {mode!r}. Expected one of {list(RESIZE_MODES)}.")
    height, width = (size, size) if isinstance(size, int) else size
    pixels = np.asarray(image, dtype=np.uint8)
    im = Image.fromarray(center_square(pixels) if mode == "crop" else pixels)
    im = im.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float32)


def center_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an image: what "crop" mode shows a model."""
    side = min(image.shape[:2])
    top = (image.shape[0] - side) // 2
    left = (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def thumbnail(image: np.ndarray, max_side: int = 256) -> np.ndarray:
    """A smaller copy for display, keeping proportions."""
    im = Image.fromarray(image)
    im.thumbnail((max_side, max_side))
    return np.asarray(im)


def tile(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A centred crop of ``image`` resized to exactly ``width`` × ``height``: photos of any
    shape line up in a row of equal tiles."""
    fitted = ImageOps.fit(Image.fromarray(image), (width, height), Image.Resampling.LANCZOS)
    return np.asarray(fitted)
