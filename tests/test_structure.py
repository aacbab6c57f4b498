"""The code's shape, kept: no function over 80 lines, no file over 400, and imports that
only point down the layers (the library never imports the UI; the shared bottom never
imports either job; Fine-tune's core never imports Compare, the artifact or the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("model_zoo", "ui", "pages")
SOURCES = [*sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")), ROOT / "app.py"]
MAX_FUNCTION_LINES, MAX_FILE_LINES = 80, 400


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {_module(p): p for p in SOURCES}

# Each group may import its own and those listed: nothing above it.
BOTTOM = {
    "model_zoo", "model_zoo.runtime", "model_zoo.limits", "model_zoo.labels",
    "model_zoo.examples", "model_zoo.untrusted", "model_zoo.children", "model_zoo.registry",
    "model_zoo.images", "model_zoo.weights", "model_zoo.datasets", "model_zoo.engine",
    "model_zoo.devices", "model_zoo.gradcam", "model_zoo.archive", "model_zoo.engine_choice",
    "model_zoo.keras_models", "model_zoo.cam", "model_zoo.cam_graph", "model_zoo.openvino_cam",
    "model_zoo.batching", "model_zoo.openvino_engine", "model_zoo.photo_set", "model_zoo.sample",
    "model_zoo.converted",
}  # fmt: skip
COMPARE = {m for m in MODULES if m.startswith("model_zoo.compare")}
TOP = {"model_zoo.finetune.jobs", "model_zoo.finetune.worker", "model_zoo.predict"}


def _group(module: str) -> str:
    if module in BOTTOM:
        return "bottom"
    if module in COMPARE:
        return "compare"
    if module in TOP:
        return "top"
    # The data doctor works on Fine-tune's datasets, split and cached features.
    if module.startswith(("model_zoo.finetune", "model_zoo.doctor", "model_zoo.wording")):
        return "finetune"
    if module.startswith("model_zoo.artifact"):
        return "artifact"
    if module.startswith("model_zoo.cli") or module == "model_zoo.__main__":
        return "cli"
    return "ui"  # ui/, pages/, app.py


ALLOWED = {
    "bottom": {"bottom"},
    "compare": {"bottom", "compare"},
    "finetune": {"bottom", "finetune"},
    "artifact": {"bottom", "finetune", "artifact"},
    "top": {"bottom", "compare", "finetune", "artifact", "top"},
    "cli": {"bottom", "compare", "finetune", "artifact", "top", "cli"},
    "ui": {"bottom", "compare", "finetune", "artifact", "top", "ui"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in MODULES or n.split(".")[0] == "streamlit")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_or_function_is_too_long(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_FILE_LINES, f"{path.name}: split it"
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_point_down_the_layers(module):
    group = _group(module)
    upward = []
    for target in sorted(_imports(MODULES[module])):
        if target.split(".")[0] == "streamlit":
            if group != "ui":
                upward.append(target)
        elif target != module and _group(target) not in ALLOWED[group]:
            upward.append(f"{target} ({_group(target)})")
    assert upward == [], f"{module} ({group}) imports above itself"


def test_the_groups_name_real_modules():
    assert set(MODULES) >= BOTTOM | COMPARE | TOP
