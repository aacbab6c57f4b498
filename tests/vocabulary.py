"""What every text a person reads must keep to: one percentage format (``51.6%``) and
display names, never a machine id. Used by the table-driven tests and the page tests."""

from __future__ import annotations

import re
from collections.abc import Iterable

from model_zoo.finetune.settings import HEAD_SPECS
from model_zoo.registry import MODELS

_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)%")
_ONE_FORMAT = re.compile(r"\d{1,3}\.\d")
LEVELS = {"95"}  # "95% interval": the name of a confidence level, not a measurement
MACHINE_IDS = [*MODELS, *HEAD_SPECS]


def problems(texts: Iterable[str]) -> list[str]:
    """Each percentage in another format and each machine id, with its text."""
    found = []
    for text in texts:
        for match in _PERCENT.finditer(text):
            if match.group(1) not in LEVELS and not _ONE_FORMAT.fullmatch(match.group(1)):
                found.append(f"{match.group(0)!r} in {text!r}")
        for ident in MACHINE_IDS:
            if re.search(rf"(?<![\w/.`-]){re.escape(ident)}(?![\w/.`-])", text):
                found.append(f"{ident!r} in {text!r}")
    return found


def page_texts(at: object) -> list[str]:
    """Every text an AppTest page shows: headings, prose, metrics and table cells."""
    texts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "subheader",
        "header",
        "title",
        "info",
        "warning",
        "success",
        "error",
    ):
        texts += [e.value for e in getattr(at, kind)]
    for metric in at.metric:  # type: ignore[attr-defined]
        texts += [metric.label, str(metric.value)]
    for frame in at.dataframe:  # type: ignore[attr-defined]
        texts += [str(c) for c in frame.value.columns]
        texts += [v for v in frame.value.to_numpy().ravel() if isinstance(v, str)]
    return texts
