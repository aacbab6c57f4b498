"""Export formats beyond ``.keras`` — SavedModel, LiteRT (float32 and dynamic-range int8),
ONNX — each converted and verified in a child process of its own under a memory limit.

A conversion can need far more memory than the model (tf2onnx's optimiser on VGG), so each
format runs in ``python -m model_zoo.finetune.formats`` with an address-space limit and a
time limit: a format that fails is reported in one line and skipped, and the caller goes on.
The child loads the exported ``model.keras`` in safe mode, converts, loads the result in its
own runtime (TensorFlow, ``ai-edge-litert``, ``onnxruntime``), runs the check images
through both, and prints one JSON report per file.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo.children import (
    Child,
    child_env,
    error_line,
    exit_text,
    is_memory_error,
    memory_limit_from_env,
    ran_out_of_memory,
    start_child,
)
from model_zoo.registry import split_names

FORMATS: dict[str, str] = {  # short: they label the page's checkboxes
    "keras": "model.keras",
    "savedmodel": "SavedModel (TF Serving)",
    "litert": "LiteRT, f32 + int8",
    "onnx": "ONNX",
}
FILES = {
    "savedmodel": "saved_model",
    "litert": "model.tflite",
    "litert_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}
MEMORY_VAR = "MODEL_ZOO_EXPORT_MEMORY_GB"
DEFAULT_MEMORY_GB = 16.0  # of address space, which TensorFlow reserves generously
TIME_LIMIT_SECONDS = 900
ONNX_OPSET = 17


@dataclass(frozen=True)
class FormatReport:
    """One exported file, checked against the Keras model on the check images.

    Attributes:
        format: ``keras``, ``savedmodel``, ``litert``, ``litert_int8`` or ``onnx``.
        file: Its name in the export folder ("" when it failed).
        error: Why it failed, one line ("" when it worked).
        size_mb: On disk.
        agreement: Fraction of check images with the same top-1 class as Keras.
        max_difference: Largest absolute probability difference from Keras.
        ms_per_image: One image at a time, in its runtime, on this machine.
        images: Check images compared.
    """

    format: str
    file: str = ""
    error: str = ""
    size_mb: float = 0.0
    agreement: float = float("nan")
    max_difference: float = float("nan")
    ms_per_image: float = float("nan")
    images: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


def parse_formats(value: str | Sequence[str]) -> list[str]:
    """``"all"`` or a comma-separated list of ``FORMATS``; ``keras`` always comes first.

    Raises:
        ValueError: an unknown format.
    """
    names = split_names(value, "format")
    if names == ["all"]:
        return list(FORMATS)
    for name in names:
        if name not in FORMATS:
            raise ValueError(
                f"Unknown format {name!r}. Expected one of {sorted(FORMATS)} or 'all'."
            )
    return ["keras", *dict.fromkeys(n for n in names if n != "keras")]


def memory_limit() -> int | None:
    """Bytes of address space for one conversion (``$MODEL_ZOO_EXPORT_MEMORY_GB``, default 16;
    0 for none)."""
    return memory_limit_from_env(MEMORY_VAR, DEFAULT_MEMORY_GB)


def export_formats(
    model_file: Path,
    folder: Path,
    formats: Sequence[str],
    check_pixels: np.ndarray,
    *,
    limit: int | None = -1,
    timeout: float = TIME_LIMIT_SECONDS,
    on_format: Callable[[str, int, int], None] | None = None,
) -> list[FormatReport]:
    """Converts ``model_file`` into each of ``formats`` (beyond ``keras``) inside ``folder``,
    each in its own child process, and verifies each file on ``check_pixels``.

    ``on_format(format, n, of)`` hears of each conversion as it starts.

    Returns:
        One report per file (``litert`` gives two), failures included.
    """
    reports: list[FormatReport] = []
    with tempfile.TemporaryDirectory(prefix="model_zoo_formats_") as tmp:
        check_file = Path(tmp) / "check.npy"
        np.save(check_file, np.asarray(check_pixels, dtype=np.float32))
        todo = [f for f in formats if f != "keras"]
        for index, fmt in enumerate(todo, 1):
            if on_format is not None:  # the page names the format being converted
                on_format(fmt, index, len(todo))
            reports.extend(
                _convert_in_child(
                    fmt,
                    model_file,
                    folder,
                    check_file,
                    memory_limit() if limit == -1 else limit,
                    timeout,
                )
            )
    return reports


def _convert_in_child(
    fmt: str, model_file: Path, folder: Path, check_file: Path, limit: int | None, timeout: float
) -> list[FormatReport]:
    args = [fmt, str(model_file), str(folder), str(check_file), str(limit or 0)]
    log = check_file.parent / f"{fmt}.log"
    names = {f.name for f in fields(FormatReport)}
    with Child(
        "model_zoo.finetune.formats", args, env=child_env(TF_CPP_MIN_LOG_LEVEL="3"), log=log
    ) as child:
        reports = [
            FormatReport(**{k: v for k, v in m.items() if k in names})
            for m in child.messages(deadline=time.monotonic() + timeout)
            if m.get("format")
        ]
    code = child.wait()
    if child.timed_out:
        return [FormatReport(fmt, error=f"conversion took over {timeout:.0f} s and was ended")]
    if reports:
        return reports
    tail = child.tail()
    if limit and ran_out_of_memory(code, limit, tail):
        return [_out_of_memory(fmt, limit)]
    if code < 0:
        why = f"the process {exit_text(code)}"
    else:
        lines = tail.strip().splitlines()
        why = (lines[-1] if lines else f"exit status {code}")[:300]
    return [FormatReport(fmt, error=f"conversion failed: {why}")]


def _out_of_memory(fmt: str, limit: int | None) -> FormatReport:
    """The same line however running out shows (an error in the child, or its death)."""
    within = f" (limit {limit / 1e9:g} GB, {MEMORY_VAR})" if limit else ""
    return FormatReport(fmt, error=f"conversion failed: ran out of memory{within}")


# --- the child process ------------------------------------------------------------------


def _measure(
    fmt: str, path: Path, run: Any, check: np.ndarray, reference: np.ndarray
) -> FormatReport:
    """Runs ``run`` (one image in, probabilities out) on every check image."""
    outputs, times = [], []
    for image in check:
        start = time.perf_counter()
        outputs.append(np.asarray(run(image[None]), dtype=np.float32).reshape(-1))
        times.append(time.perf_counter() - start)
    probs = np.stack(outputs)
    size = (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if path.is_dir()
        else path.stat().st_size
    )
    return FormatReport(
        format=fmt,
        file=path.name,
        size_mb=size / 1e6,
        agreement=float(np.mean(probs.argmax(1) == reference.argmax(1))),
        max_difference=float(np.abs(probs - reference).max()),
        ms_per_image=1000 * float(np.median(times[1:] if len(times) > 1 else times)),
        images=len(check),
    )


def _litert_runner(path: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    given, wanted = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(given["index"], x.astype(np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(wanted["index"])

    return run


def _child(fmt: str, model_file: Path, folder: Path, check: np.ndarray) -> list[FormatReport]:
    from model_zoo import runtime

    tf, keras = runtime.tensorflow(), runtime.keras()
    model = keras.saving.load_model(model_file, safe_mode=True)
    reference = np.asarray(model.predict(check, batch_size=8, verbose=0), dtype=np.float32)
    size = int(model.input_shape[1])
    signature = [tf.TensorSpec((None, size, size, 3), tf.float32, name="pixels")]
    saved = folder / FILES["savedmodel"]
    if fmt in ("savedmodel", "litert") and not saved.is_dir():
        model.export(str(saved), format="tf_saved_model", input_signature=signature, verbose=False)
    if fmt == "savedmodel":
        served = tf.saved_model.load(str(saved))
        return [_measure(fmt, saved, lambda x: served.serve(tf.constant(x)), check, reference)]
    if fmt == "litert":
        reports = []
        for name, quantise in (("litert", False), ("litert_int8", True)):
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            if quantise:  # dynamic range: int8 weights, float activations
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            path = folder / FILES[name]
            path.write_bytes(converter.convert())
            reports.append(_measure(name, path, _litert_runner(path), check, reference))
        return reports
    if fmt == "onnx":
        import onnxruntime
        import tf2onnx

        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=ONNX_OPSET)
        path = folder / FILES["onnx"]
        path.write_bytes(proto.SerializeToString())
        del proto
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return [_measure(fmt, path, lambda x: session.run(None, {name: x})[0], check, reference)]
    raise ValueError(f"Unknown format {fmt!r}. Expected one of {sorted(FORMATS)}.")


def main(argv: list[str]) -> int:
    fmt, model_file, folder, check_file, limit = argv
    start_child(int(limit) or None, background=True)  # the limit before TensorFlow starts
    check = np.load(check_file)
    out = sys.stdout
    sys.stdout = sys.stderr  # converters' chatter stays off the report
    try:
        reports = _child(fmt, Path(model_file), Path(folder), check)
    except Exception as err:  # any converter's failure: one line for the report
        if is_memory_error(err, int(limit)):
            reports = [_out_of_memory(fmt, int(limit) or None)]
        else:
            reports = [FormatReport(fmt, error=f"conversion failed: {error_line(err)}")]
    for report in reports:
        out.write(json.dumps(asdict(report)) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
