"""A fine-tuned export, loaded and checked: one ``Exported`` whether it came from disk (the
CLI, a reopened download) or from a finished run (the results page), with one way to
predict and one to explain. Loading goes through ``labels.read_export``; the model runs on
its OpenVINO IR (converted in a child process) or, where there is none, loads in Keras' safe
mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_zoo import runtime
from model_zoo.artifact.labels import (
    LABELS_FILE,
    MODEL_FILE,
    ExportError,
    declared_shapes,
    read_export,
)
from model_zoo.children import error_line
from model_zoo.finetune.calibration import calibrate
from model_zoo.gradcam import Explanation, run_cam
from model_zoo.images import resize

if TYPE_CHECKING:
    from model_zoo.engine import OpenVINOEngine, Precision
    from model_zoo.finetune.evaluation import TrainResult

BATCH = 32


@dataclass
class Exported:
    """A fine-tuned export, checked: the model and its labels.

    Predictions and Grad-CAM run on OpenVINO where it is allowed and the model is on disk
    (``model_file``): converted once, in a child process, to an IR kept in ``ir_home`` (a
    run's own folder) or, for an export loaded from disk, in the cache under its checksum
    (``digest``). The Keras model (``model``) is then never loaded here; it is the
    fallback.
    """

    model: Any
    classes: tuple[str, ...]
    size: int
    temperature: float
    threshold: float
    digest: str = ""
    engine: str = "TensorFlow"
    model_file: Path | None = None
    ir_home: Path | None = None

    _runner: Callable[[np.ndarray], np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )  # built on first use: one converted or compiled model per export
    _compiled: Any = field(default=False, init=False, repr=False, compare=False)
    _compiling: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @classmethod
    def from_result(cls, result: TrainResult, threshold: float) -> Exported:
        """A finished run's model as the export it would download; its IR lives in the
        run's own folder (``result.folder``), not in the shared cache."""
        folder = result.folder
        return cls(
            result.model,
            result.classes,
            result.config.size,
            result.evaluation.temperature,
            threshold,
            model_file=folder / MODEL_FILE if folder is not None else None,
            ir_home=folder,
        )

    def probabilities(self, pixels: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """Probabilities for pixels at the input size, ``(N, size, size, 3)``, 0–255: in
        batches through ``batch_runner``, after the export's temperature unless not
        ``calibrated``."""
        if self._runner is None:
            self._runner = self.batch_runner()
        pixels = np.asarray(pixels, np.float32)
        chunks = [self._runner(pixels[i : i + BATCH]) for i in range(0, len(pixels), BATCH)]
        probs = np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)))
        return calibrate(probs, self.temperature) if calibrated else probs

    def predict(self, images: list[np.ndarray], calibrated: bool = True) -> np.ndarray:
        """Probabilities for RGB uint8 photos of any size (squashed to the input size)."""
        return self.probabilities(np.stack([resize(im, self.size) for im in images]), calibrated)

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        """Grad-CAM of the model (uncalibrated probabilities) for one class, default its
        top-1: from one pass of its IR, else on TensorFlow.

        Raises:
            ValueError: ``class_index`` is not one of the classes.
        """
        if class_index is not None and not 0 <= class_index < len(self.classes):
            raise ValueError(
                f"Class index {class_index} is out of range 0..{len(self.classes) - 1}."
            )
        engine = self.compiled()
        if engine is not None and engine.cam is not None:
            pixels = resize(image, self.size)
            return run_cam(engine, engine.cam, pixels, class_index, "finetuned", None)
        from model_zoo.finetune.explain import explain_finetuned

        return explain_finetuned(self.keras_model(), image, class_index)

    def keras_model(self) -> Any:
        """The Keras model, loaded in safe mode from ``model_file`` the first time."""
        if self.model is None:
            assert self.model_file is not None
            self.model = _load_keras(self.model_file, str(self.model_file))
        return self.model

    def _ir_folder(self) -> tuple[Path, Precision] | None:
        """Where this model's IR is kept, when OpenVINO runs it (a model on disk)."""
        from model_zoo import engine

        settings = engine.engine_settings()
        # Whether OpenVINO is installed, without starting it: a model refused by its shapes
        # should not pay for OpenVINO's CPU plugin on top of TensorFlow.
        on_disk = self.model_file is not None and (self.digest or self.ir_home is not None)
        if not (on_disk and settings.wants_openvino and find_spec("openvino") is not None):
            return None
        precision = settings.resolved_precision()
        if self.ir_home is not None:
            return self.ir_home / f"openvino-{engine.storage(precision)}", precision
        return engine.cached_ir_folder(f"export-{self.digest[:24]}", precision), precision

    def compiled(self) -> OpenVINOEngine | None:
        """The compiled IR (converted first, once, if missing), or None: no OpenVINO, or the
        model does not convert (then Keras runs it)."""
        with self._compiling:  # one conversion, however many callers
            if self._compiled is False:
                where = self._ir_folder()
                found = _compile(where[0], where[1], self.model_file) if where else None
                self._compiled = found
        return self._compiled

    def prepare_in_background(self) -> None:
        """Starts ``compiled`` in a thread: the conversion (a child process, seconds) is
        then under way while the visitor reads the results, before their first try-it."""
        runtime.start_background(self.compiled, "model-zoo-export")

    def batch_runner(self) -> Callable[[np.ndarray], np.ndarray]:
        """Probabilities for a batch of up to ``BATCH`` pixels: the compiled IR where there
        is one (see ``compiled``), else Keras' ``predict_on_batch``."""
        compiled = self.compiled()
        if compiled is not None:
            self.engine = compiled.label
            return compiled
        self.engine = "TensorFlow"
        model = self.keras_model()
        return lambda x: np.asarray(model.predict_on_batch(x))

    def cached_shapes(self) -> tuple[tuple[int, ...], int] | None:
        """(input shape without the batch, outputs) of this model's IR, read without
        TensorFlow; None when there is none."""
        from model_zoo import engine

        where = self._ir_folder()
        if where is None or not (where[0] / engine.IR_FILE).is_file():
            return None
        core: Any = engine.openvino_core()
        try:
            ir = core.read_model(str(where[0] / engine.IR_FILE))
            given = tuple(int(d) for d in ir.inputs[0].get_partial_shape()[1:].to_shape())
            return given, int(ir.outputs[0].get_partial_shape()[-1].get_length())
        except Exception:  # a damaged cache: Keras checks instead
            return None


def _compile(folder: Path, precision: Precision, model_file: Path | None) -> OpenVINOEngine | None:
    """The IR in ``folder`` compiled (converted from ``model_file`` first if missing)."""
    from model_zoo import engine
    from model_zoo.artifact.convert import convert_export

    xml: Path | None = folder / engine.IR_FILE
    if not folder.joinpath(engine.IR_FILE).is_file() and model_file is not None:
        xml, _ = convert_export(model_file, folder, precision)
    if xml is None or not xml.is_file():
        return None
    try:
        return engine.OpenVINOEngine(xml, precision, max_batch=BATCH)
    except Exception:  # an IR that does not compile: Keras runs the model
        return None


def _load_keras(model_file: Path, source: str) -> Any:

    try:
        return runtime.keras().saving.load_model(model_file, safe_mode=True)
    except Exception as err:  # a file that matches its checksum but still will not load
        text = error_line(err, with_type=False, limit=200)
        raise ExportError(f"{source}: the model does not load ({text})") from None


def load_export(source: Path, workdir: Path) -> Exported:
    """Loads an export folder or zip written by this app (``export.write_export``), checked
    by ``artifact.read_export`` first; the model must fit its labels. Where its OpenVINO IR
    is cached already, that is what runs it (no TensorFlow); else the model loads in Keras'
    safe mode.

    Args:
        source: The export's folder, or its zip.
        workdir: A temporary folder of the caller's: a zip's model is copied there; it must
            outlive the predictions.

    Raises:
        ExportError: not an export of this app, altered, or damaged (one line).
    """
    labels, model_file = read_export(source, workdir)
    exported = Exported(
        None,
        labels.classes,
        labels.input_size,
        labels.temperature,
        labels.threshold,
        digest=labels.model_sha256,
        model_file=model_file,
    )
    where = f"{source.name}: {LABELS_FILE}"
    declared = declared_shapes(model_file)
    if declared is not None:  # before TensorFlow: labels that cannot fit are refused cheaply
        labels.check_shapes(*declared, where)
    shapes = exported.cached_shapes()
    if shapes is not None:
        labels.check_shapes(*shapes, where)
    else:
        model = _load_keras(model_file, str(source))
        labels.check_shapes(tuple(model.input_shape)[1:], tuple(model.output_shape)[-1], where)
        exported.model = model
    return exported
