"""The one vocabulary of every panel, table and report: the registry's and the head table's
display names, and one way to write a percentage. Machine ids stay in files and CSV columns
of their own; these are for people."""

from __future__ import annotations

import math

from model_zoo.finetune.settings import HEAD_SPECS
from model_zoo.registry import MODELS

RUN_SEPARATOR = " + "  # a leaderboard row's key: "resnet50 + gap"


def percent(value: float | None) -> str:
    """``0.5162`` → ``"51.6%"``; a missing value → ``"–"``."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1%}"


def percent_range(low: float, high: float) -> str:
    """An interval: ``"42.1%–77.3%"``."""
    return f"{percent(low)}–{percent(high)}"


def scored(label: str, score: float) -> str:
    """A class and its score: ``"chickadee 0.2%"``."""
    return f"{label} {percent(score)}"


def model_name(name: str) -> str:
    """A backbone's display name (``"inception_v3"`` → ``"InceptionV3"``)."""
    return MODELS[name].display_name if name in MODELS else name


def head_name(name: str) -> str:
    """A head's display name (``"gap_dropout"`` → ``"global pool + dropout"``)."""
    return HEAD_SPECS[name].display_name if name in HEAD_SPECS else name


def run_key(backbone: str, head: str) -> str:
    """The id of a backbone × head combination."""
    return f"{backbone}{RUN_SEPARATOR}{head}"


def run_label(key: str) -> str:
    """A combination (or a lone backbone) for people: ``"ResNet50 · global pool"``."""
    backbone, _, head = key.partition(RUN_SEPARATOR)
    return f"{model_name(backbone)} · {head_name(head)}" if head else model_name(backbone)


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_word(count: int) -> str:
    """``5`` → ``"five"`` (up to ten), else the digits: counts in the copy come from the
    registry, never written out by hand."""
    return _NUMBERS[count] if 0 <= count < len(_NUMBERS) else str(count)


def model_count() -> str:
    """How many ImageNet models the registry holds, in words."""
    return number_word(len(MODELS))


def top_header(shown: int) -> str:
    """The heading of a column of the best ``shown`` classes (never more than there are)."""
    return "top class" if shown == 1 else f"top {shown}"
