"""What a visitor hands over is data, never instructions: files read only when they are
regular files of a bounded size, and names shown only escaped for where they go (Markdown,
Plotly's text, a spreadsheet's cell).

A FIFO blocks ``open()`` forever and ``/dev/zero`` never ends, so a path is checked with
``stat`` before it is opened (and again on the open descriptor). A link may point anywhere, so
inside a folder the user named only links that stay in it are followed.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from model_zoo.limits import size_text


class UntrustedFileError(ValueError):
    """A path that is not a regular file, leaves its folder, or is too large (one line)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def regular_file(path: Path, *, within: Path | None = None, max_bytes: int | None = None) -> Path:
    """``path`` resolved, when it is a regular file (of at most ``max_bytes``) that stays
    inside ``within`` once links are followed.

    Raises:
        UntrustedFileError: it is missing, not a regular file, outside ``within`` or too large.
    """
    try:
        real = path.resolve(strict=True)
        info = os.stat(real)
    except (OSError, RuntimeError) as err:  # RuntimeError: a loop of links
        raise UntrustedFileError(f"{path}: cannot read the file ({_reason(err)})") from None
    if within is not None and not real.is_relative_to(within.resolve()):
        raise UntrustedFileError(f"{path}: a link out of {within}: refused")
    if not stat.S_ISREG(info.st_mode):
        raise UntrustedFileError(f"{path}: {_kind(info.st_mode)}, not a file: refused")
    if max_bytes is not None and info.st_size > max_bytes:
        raise UntrustedFileError(_too_large(path, info.st_size, max_bytes))
    return real


def _too_large(path: Path, size: int, max_bytes: int) -> str:
    return f"{path}: the file is {size_text(size)}; the limit is {size_text(max_bytes)}"


def read_regular(path: Path, max_bytes: int, *, within: Path | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (``regular_file``'s rules, checked
    again on the open file: what was checked is what is read).

    Raises:
        UntrustedFileError: as ``regular_file``, or it changed or could not be read.
    """
    real = regular_file(path, within=within, max_bytes=max_bytes)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as err:
        raise UntrustedFileError(f"{path}: cannot read the file ({_reason(err)})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UntrustedFileError(f"{path}: not a regular file: refused")
        try:
            data = f.read(max_bytes + 1)
        except OSError as err:
            raise UntrustedFileError(f"{path}: cannot read the file ({_reason(err)})") from None
    if len(data) > max_bytes:  # it grew since it was checked
        raise UntrustedFileError(_too_large(path, len(data), max_bytes))
    return data


def _reason(err: BaseException) -> str:
    return (err.strerror if isinstance(err, OSError) and err.strerror else str(err)) or type(
        err
    ).__name__


# --- names as text ------------------------------------------------------------------------

# Inline markup anywhere in a line: emphasis, code, links and images, autolinks and HTML
# (GFM also links bare "https://…", "www.…" and "a@b.c"), entities, tables, and
# Streamlit's own "$" (KaTeX), ":" (":red[…]", ":emoji:") and "~".
_INLINE = re.compile(r"([\\`*{}\[\]()<>!|$:~&@])")
# "_" inside a word ("class_a") is never emphasis in GFM; at a word's edge it can be.
_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")
_WWW = re.compile(r"(?i)(www)\.")
# Block markup only counts at the start of a line: headings, lists, quotes, rules.
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def md(name: object) -> str:
    """A name as literal text inside Markdown (``st.markdown``, ``st.error``, captions, the
    model card): markup characters backslash-escaped and control characters (newlines)
    shown as spaces, so links, images, formulas, colours and emphasis stay text."""
    text = _INLINE.sub(r"\\\1", _CONTROL.sub(" ", str(name)))
    text = _UNDERSCORE.sub(r"\\_", _WWW.sub(r"\1\\.", text))
    return _LINE_START.sub(_escape_start, text, count=1)


def _escape_start(match: re.Match[str]) -> str:
    space, token = match.groups()
    if token.isdigit():  # "1." starts an ordered list: the mark after the number is escaped
        return f"{space}{token}\\"
    return f"{space}\\{token}"


def plotly_text(name: object) -> str:
    """A name as literal text in Plotly's tick, hover and annotation text, which reads a
    subset of HTML (``<a href>``, ``<br>``, ``<b>``, entities)."""
    text = _CONTROL.sub(" ", str(name))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell that a spreadsheet will not run: text starting with ``= + - @``, TAB or CR gets
    a leading ``'`` (OWASP's rule for CSV injection), and so does a negative number, which
    would start with "-". Other numbers stay numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        value = str(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with every text cell neutralised (``csv_cell``) and quoted: the one writer of
    every CSV the app makes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(_plain(v)) for v in row])
    return out.getvalue()


def _plain(value: Any) -> Any:
    """Numbers as numbers (bool as text), None as empty, anything else as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    return str(value)
