"""Inference engines behind ``Classifier``: OpenVINO compiled from the Keras models, or
TensorFlow. Each model, its ``preprocess_input`` inside the graph, is converted once per
(model, weights, precision) to an OpenVINO IR in a cache folder and compiled from there:
later starts take a fraction of a second and never import TensorFlow. Conversion runs in a
child process (``python -m model_zoo.engine``) unless TensorFlow is loaded already.
Settings (``engine_choice``) and the Keras models (``keras_models``) are re-exported here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from model_zoo import runtime
from model_zoo.cam import CamHead
from model_zoo.cam_graph import compare_forward, traced
from model_zoo.children import Child, exit_text, start_child
from model_zoo.converted import Converted, one_line
from model_zoo.engine_choice import (
    CACHE_VAR,
    ENGINE_VAR,
    ENGINES,
    PRECISION_VAR,
    PRECISIONS,
    EngineChoice,
    EngineSettings,
    Precision,
    PrecisionChoice,
    baked_cache,
    cache_root,
    engine_settings,
    native_bf16,
    openvino_core,
    without_telemetry,
)
from model_zoo.keras_models import (
    TensorFlowEngine,
    build_keras_model,
    random_weights_file,
    tensorflow_function,
)
from model_zoo.openvino_cam import save_backward
from model_zoo.openvino_engine import OpenVINOEngine
from model_zoo.registry import MODELS, ModelSpec, get_spec
from model_zoo.weights import MissingWeightsError, WeightsSource, missing_error, weights_source

IR_FILE = "model.xml"
# What a cached IR holds: v2 adds Grad-CAM's outputs and cam.npz (older folders are unused)
IR_LAYOUT = "v2"
CONVERT_SECONDS = 600  # per model, for a child converting several; then it is ended
# Children converting at once: one per core, two at most (each holds a TensorFlow, ~2 GB)
CONVERT_WORKERS = max(1, min(2, os.cpu_count() or 1))
# Seconds to build and convert each model, to balance the children (measured one after
# another in one child, random weights, 2-core AMD Zen 5; vgg19 less TensorFlow's start-up)
CONVERT_COST = {"vgg16": 5.1, "vgg19": 6.0, "resnet50": 3.4, "inception_v3": 3.4, "xception": 2.1}


class Engine(Protocol):
    """Raw 0-255 RGB pixels ``(N, S, S, 3)`` float32 in, softmax probabilities out.

    Not thread-safe: ``Classifier`` calls it under its lock.
    """

    label: str

    def __call__(self, pixels: np.ndarray) -> np.ndarray: ...


def weights_key(spec: ModelSpec, source: WeightsSource, *, notop: bool = False) -> str:
    """Names the weights a converted model was made from, for its cache folder.

    Raises:
        MissingWeightsError: the weights folder lacks the file (its key needs the file).
    """
    if source.kind == "imagenet":
        return f"imagenet-{spec.weights(notop).md5[:8]}"
    if source.kind == "random":
        return "random"
    path = source.local_file(spec, notop=notop)
    assert path is not None
    if not path.is_file():
        raise missing_error(spec, source, notop=notop)
    stat = path.stat()
    identity = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return "folder-" + hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()


def ir_folder(spec: ModelSpec, source: WeightsSource, precision: Precision) -> Path:
    """Where the converted model of ``spec`` with these weights lives.

    bf16 inference reads weights stored as fp16 (half the disk and memory of f32, and finer
    than bf16); f32 inference reads f32 weights, so it matches Keras to float rounding.

    A model baked into the image (``$MODEL_ZOO_BAKED``, see the Dockerfile) is used from
    there when the cache has none.

    Raises:
        MissingWeightsError: the weights folder lacks the file (its key needs the file).
    """
    folder = cached_ir_folder(f"{spec.name}-{weights_key(spec, source)}", precision)
    baked_root = baked_cache()
    if baked_root is not None and not (folder / IR_FILE).is_file():
        baked = baked_root / folder.relative_to(cache_root())
        if (baked / IR_FILE).is_file():
            return baked
    return folder


def cached_ir_folder(name: str, precision: Precision) -> Path:
    """The cache folder of the IR named ``name`` (model and weights) for ``precision``."""
    return cache_root() / "openvino" / f"{name}-{IR_LAYOUT}-{storage(precision)}"


def storage(precision: Precision) -> str:
    """How an IR for ``precision`` stores its weights: fp16 for bf16 inference, else f32."""
    return "fp16" if precision == "bf16" else "f32"


def convert_to_openvino(spec: ModelSpec, model: Any, folder: Path, precision: Precision) -> Path:
    """Converts a Keras ImageNet model (with preprocessing) to an OpenVINO IR in ``folder``,
    with Grad-CAM's outputs and head (``cam_graph``) where its head allows.

    Returns:
        The path of the IR's ``.xml`` file.
    """
    forward, head = compare_forward(spec, model)
    return save_ir(traced(forward, spec.input_size), folder, precision, head)


def save_ir(
    concrete_function: Any, folder: Path, precision: Precision, head: CamHead | None = None
) -> Path:
    """Converts a traced TensorFlow function to an OpenVINO IR in ``folder``, with the
    Grad-CAM head's backward pass beside it (``openvino_cam.CAM_IR_FILE``) when given.

    The IR is written to a temporary folder beside ``folder`` and renamed into place, so a
    reader never sees half a model.

    Returns:
        The path of the IR's ``.xml`` file.
    """
    without_telemetry()
    import openvino as ov

    ir = ov.convert_model(concrete_function)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
    try:
        if head is not None:
            save_backward(head, staging, precision)
        ov.save_model(ir, str(staging / IR_FILE), compress_to_fp16=precision == "bf16")
        try:
            staging.rename(folder)
        except OSError:  # another process finished first: keep theirs
            if not (folder / IR_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / IR_FILE


def cached_openvino(
    folder: Path, trace: Callable[[], Any], precision: Precision, max_batch: int
) -> OpenVINOEngine | None:
    """The IR cached in ``folder`` (converted from ``trace()``, a TensorFlow concrete
    function, the first time) compiled on OpenVINO; None when converting or compiling fails,
    for the caller to fall back on TensorFlow."""
    try:
        xml = folder / IR_FILE
        if not xml.is_file():
            xml = save_ir(trace(), folder, precision)
        return OpenVINOEngine(xml, precision, max_batch=max_batch)
    except Exception:  # any conversion or compile failure
        return None


def convert_here(name: str, source: WeightsSource, precision: Precision) -> Converted:
    """Builds the Keras model and converts it in this process (imports TensorFlow)."""
    spec = get_spec(name)
    start = time.perf_counter()
    try:
        folder = ir_folder(spec, source, precision)
        if (folder / IR_FILE).is_file():
            return Converted(name, folder / IR_FILE)
        model = build_keras_model(spec, source)
        xml = convert_to_openvino(spec, model, folder, precision)
        del model
        runtime.release_free_memory()
        return Converted(name, xml, seconds=time.perf_counter() - start)
    except MissingWeightsError as err:
        return Converted(name, None, missing=err.problem, error=err.problem, message=str(err))
    except Exception as err:  # a conversion failure falls back to TensorFlow, never crashes
        return Converted(name, None, error=one_line(err), seconds=time.perf_counter() - start)


def load_engine(
    name: str, source: WeightsSource, precision: Precision, converted: Converted | None = None
) -> tuple[OpenVINOEngine | None, Converted]:
    """The compiled OpenVINO engine of a registry model, converting it first if needed.

    A cached IR that does not compile (damaged on disk since) is removed and converted once
    more. Returns (None, outcome) when there is no engine: ``outcome`` says why.
    """
    outcome = converted or convert([name], source, precision)[name]
    for last in (False, True):
        if outcome.xml is None:
            break
        try:
            return OpenVINOEngine(outcome.xml, precision), outcome
        except RuntimeError as err:
            shutil.rmtree(outcome.xml.parent, ignore_errors=True)
            if last:
                outcome = Converted(name, None, error=one_line(err))
            else:
                outcome = convert([name], source, precision)[name]
    return None, outcome


def convert(
    names: Sequence[str],
    source: WeightsSource,
    precision: Precision,
    on_done: Callable[[Converted], None] | None = None,
) -> dict[str, Converted]:
    """Makes sure each model has its IR: cached ones at once, the rest converted.

    Conversion runs in this process when TensorFlow is already loaded here, else in child
    processes (``CONVERT_WORKERS`` at once; TensorFlow's memory leaves with them).
    ``on_done`` hears of each model as soon as it is ready.
    """
    results: dict[str, Converted] = {}

    def done(result: Converted) -> None:
        results[result.name] = result
        if on_done is not None:
            on_done(result)

    todo = []
    for name in names:
        try:
            folder = ir_folder(get_spec(name), source, precision)
        except MissingWeightsError as err:
            done(Converted(name, None, missing=err.problem, error=err.problem, message=str(err)))
            continue
        if (folder / IR_FILE).is_file():
            done(Converted(name, folder / IR_FILE))
        else:
            todo.append(name)
    if not todo:
        return results
    if "tensorflow" in sys.modules:
        for name in todo:
            done(convert_here(name, source, precision))
        return results
    for result in _convert_in_children(todo, source, precision):
        done(result)
    return results


def conversion_groups(names: Sequence[str], workers: int) -> list[list[str]]:
    """``names`` dealt to at most ``workers`` children, heaviest first (by ``CONVERT_COST``)
    to the least loaded, so the children finish close together."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(names))))]
    loads = [0.0] * len(groups)
    for name in sorted(names, key=lambda n: -CONVERT_COST.get(n, 1.0)):
        least = loads.index(min(loads))
        groups[least].append(name)
        loads[least] += CONVERT_COST.get(name, 1.0)
    return groups


def _convert_in_children(
    names: Sequence[str], source: WeightsSource, precision: Precision
) -> Iterator[Converted]:
    """Converts in ``CONVERT_WORKERS`` children at once, each outcome as soon as it comes.

    Building a Keras model and tracing it run mostly on one core, so two children on two
    cores take about half the time of one (``bench/cold_start.py``'s empty-cache case)."""
    groups = conversion_groups(names, CONVERT_WORKERS)
    if len(groups) == 1:
        yield from _convert_in_child(groups[0], source, precision)
        return
    outcomes: queue.Queue[Converted | None] = queue.Queue()

    def work(group: list[str]) -> None:
        try:
            for converted in _convert_in_child(group, source, precision):
                outcomes.put(converted)
        finally:
            outcomes.put(None)  # this child is done

    threads = [threading.Thread(target=work, args=(g,), daemon=True) for g in groups]
    for thread in threads:
        thread.start()
    running = len(threads)
    while running:
        converted = outcomes.get()
        if converted is None:
            running -= 1
        else:
            yield converted


def _convert_in_child(
    names: Sequence[str], source: WeightsSource, precision: Precision
) -> Iterator[Converted]:
    args = [*names, "--weights", str(source), "--precision", precision, "--child"]
    seconds = CONVERT_SECONDS * len(names)
    said = set()
    with Child("model_zoo.engine", args) as child:
        for message in child.messages(deadline=time.monotonic() + seconds):
            try:
                converted = Converted.from_dict(message)
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours (a library printing to stdout)
            said.add(converted.name)
            yield converted
    code = child.wait()
    if child.timed_out:
        why = f"the conversion took over {seconds:.0f} s and was ended"
    else:
        why = f"the conversion process {exit_text(code)}"
    for name in names:  # a child that died early said nothing about the rest
        if name not in said:
            yield Converted(name, None, error=why)


def _main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Converts registry models to OpenVINO IRs.")
    parser.add_argument("names", nargs="+", choices=sorted(MODELS))
    parser.add_argument("--weights", required=True)
    parser.add_argument("--precision", choices=["bf16", "f32"], required=True)
    # Started by ``convert``: it ends when that process does. Run by hand (the Dockerfile's
    # bake), it has no parent to follow.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.child:
        start_child()
    source = weights_source(args.weights)
    failed = False
    for name in args.names:
        result = convert_here(name, source, args.precision)
        print(json.dumps(result.to_dict()), flush=True)
        failed = failed or result.xml is None
    return 1 if failed else 0  # a build that bakes the models fails with them


if __name__ == "__main__":
    sys.exit(_main())


__all__ = [
    "CACHE_VAR",
    "ENGINES",
    "ENGINE_VAR",
    "PRECISIONS",
    "PRECISION_VAR",
    "EngineChoice",
    "EngineSettings",
    "OpenVINOEngine",
    "Precision",
    "PrecisionChoice",
    "TensorFlowEngine",
    "build_keras_model",
    "cache_root",
    "engine_settings",
    "native_bf16",
    "openvino_core",
    "random_weights_file",
    "tensorflow_function",
    "without_telemetry",
]
