"""model_zoo.untrusted: files read only when regular and bounded, names escaped for Markdown,
Plotly and spreadsheets; and the CSVs the app writes, read back."""

from __future__ import annotations

import csv
import io
import os
import re
import socket

import pytest

from model_zoo.untrusted import (
    UntrustedFileError,
    csv_cell,
    md,
    plotly_text,
    read_regular,
    regular_file,
    to_csv,
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [
    "![pixel](https://203.0.113.9/p.png)",
    "[Claim your prize](https://203.0.113.9/)",
    "<img src=x onerror=alert(1)>",
    "<a href='https://203.0.113.9'>link</a>",
    "$\\frac{a}{b}$ and $$x$$",
    ":red[red] :smile: :material/home:",
    "**bold** _it_ ~~gone~~ `code`",
    "# heading",
    "1. first",
    "- item",
    "+ item",
    "> quote",
    "a | b | c",
    "www.example.com and me@example.com",
    "&lt;entity&gt; &amp;",
    "back\\slash\\",
    "line\nbreak\rand\ttab",
    '=HYPERLINK("https://203.0.113.9","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
]


def _unescaped(text: str) -> str:
    """``text`` with every backslash escape taken out, as a Markdown renderer reads it."""
    return re.sub(r"\\(.)", "", text)


@pytest.mark.parametrize("name", HOSTILE)
def test_md_leaves_no_markup_outside_an_escape(name):
    bare = _unescaped(md(name))
    assert not re.search(r"[\[\]()<>!`*_$:~&|@\\]", bare), bare
    assert not re.match(r"\s*([#+\-=>]|\d+[.)])", bare)
    assert "\n" not in md(name) and "\r" not in md(name)
    assert "www." not in bare


@pytest.mark.parametrize("name", ["cat", "class_a", "notes.png", "Golden retriever 2"])
def test_md_keeps_plain_names_readable(name):
    assert re.sub(r"\\(.)", r"\1", md(name)) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_plotly_text_has_no_markup(name):
    text = plotly_text(name)
    assert "<" not in text and ">" not in text
    assert re.sub(r"&(amp|lt|gt);", "", text).count("&") == 0


@pytest.mark.parametrize("name", HOSTILE)
def test_every_csv_cell_reads_back_without_a_formula(name):
    text = to_csv(["name", "score"], [[name, 0.5], [f"photo {name}", -1.25]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == (f"'{name}" if name.startswith(FORMULA_START) else name)
    assert rows[1][1] == "0.5" and rows[2][1] == "'-1.25"  # even a negative number
    for row in rows:
        assert not any(cell.startswith(FORMULA_START) for cell in row)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("cat", "cat"), (-3, "'-3"), (1.5, 1.5), ("\tx", "'\tx"), ("", "")],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected


def test_the_apps_csvs_hold_no_formula_cell():
    from model_zoo.finetune.leaderboard import Row
    from model_zoo.finetune.leaderboard import to_csv as leaderboard_csv
    from model_zoo.labels import ClassScore
    from model_zoo.predict import PhotoAnswers, PredictionRow, answers_csv, rows_csv

    evil = '=HYPERLINK("https://203.0.113.9")'
    texts = [
        rows_csv(
            [PredictionRow(evil, ((evil, 0.9), ("-x", 0.1))), PredictionRow("@a", error="+b")]
        ),
        answers_csv(
            [
                PhotoAnswers(evil, (("resnet50", ClassScore("+1", "n0", 0, 0.5)),)),
                PhotoAnswers("-1", error="@x"),
            ]
        ),
        leaderboard_csv(
            [Row("vgg16", "gap", 0.5, (0.2, 0.8), -1.0, 0.1, 0.2, 12.0, 3.0, 10, False)]
        ),
    ]
    for text in texts:
        for row in csv.reader(io.StringIO(text)):
            assert not any(cell.startswith(FORMULA_START) for cell in row), row
    rows = list(csv.reader(io.StringIO(texts[0])))
    assert rows[1][:2] == [f"'{evil}", f"'{evil}"] and rows[2][0] == "'@a"


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    assert read_regular(path, 5) == b"hello"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("fifo", "a pipe (FIFO), not a file: refused"),
        ("folder", "a folder, not a file: refused"),
        ("dev_zero", "a device, not a file: refused"),
        ("socket", "a socket, not a file: refused"),
        ("missing", "cannot read the file (No such file or directory)"),
        ("loop", "cannot read the file"),
        ("large", "the file is 6 bytes; the limit is 5 bytes"),
    ],
)
def test_what_is_not_a_small_regular_file_is_refused_without_opening_it(tmp_path, make, message):
    path = tmp_path / "thing"
    if make == "fifo":
        os.mkfifo(path)  # opening it would block forever
    elif make == "folder":
        path.mkdir()
    elif make == "dev_zero":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif make == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    elif make == "loop":
        path.symlink_to(path)
    elif make == "large":
        path.write_bytes(b"123456")
    with pytest.raises(UntrustedFileError, match=re.escape(message)):
        read_regular(path, 5)


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "labels.json").symlink_to(outside)
    (folder / "inside.json").symlink_to(folder / "real.json")
    (folder / "real.json").write_text("{}")
    with pytest.raises(UntrustedFileError, match="a link out of"):
        regular_file(folder / "labels.json", within=folder)
    assert regular_file(folder / "inside.json", within=folder) == (folder / "real.json").resolve()
