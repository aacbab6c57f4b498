"""The size limits people see, in one unit: MB means 10**6 bytes everywhere (README, pages,
messages). Streamlit's ``server.maxUploadSize`` (``.streamlit/config.toml``) holds
``MAX_UPLOAD_MB``; a test keeps the two in step.
"""

from __future__ import annotations

MB = 1_000_000
MAX_UPLOAD_MB = 200  # one uploaded file: a dataset zip of a few hundred photos
MAX_PHOTO_MB = 50  # one photo, checked by the decoder (and one entry of a zip)
MAX_PIXELS = 40_000_000  # one photo's width × height, checked before decoding


def size_text(n: float) -> str:
    """Bytes for people, in the decimal units used by every limit: "1.5 MB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"
