"""Grad-CAM's backward pass (``cam.CamHead``) as a second small OpenVINO graph, saved beside
the model's IR at conversion (``cam.xml``) and compiled from there: its matrices then live
in the compiled graph at the engine's precision (bf16: half of NumPy's float32, and the
matrix-vector products run on the CPU's bf16 units). The graph takes the class as a
one-hot row and each hidden layer's ReLU mask, and gives the channel weights times the
map's area.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.cam import CamHead, weighted_heatmap
from model_zoo.engine_choice import Precision, openvino_core, without_telemetry

CAM_IR_FILE = "cam.xml"


def backward_model(head: CamHead) -> Any:
    """The ``ov.Model`` of ``head``'s backward pass: inputs ``target (1, classes)`` and
    ``mask0…`` ``(1, hidden_i)``; output ``(1, C)``."""
    without_telemetry()
    import openvino as ov
    import openvino.opset13 as ops

    target = ops.parameter([1, head.classes], np.float32, name="target")
    masks = [
        ops.parameter([1, m.shape[1]], np.float32, name=f"mask{i}")
        for i, m in enumerate(head.matrices[:-1])
    ]
    # Row vectors: v (1, out) @ M.T gives (1, in) for a matrix M (in, out).
    v = ops.matmul(target, ops.constant(head.matrices[-1]), False, True)
    for matrix, mask in zip(head.matrices[-2::-1], masks[::-1], strict=True):
        v = ops.matmul(ops.multiply(v, mask), ops.constant(matrix), False, True)
    return ov.Model([v], [target, *masks], "gradcam_backward")


def save_backward(head: CamHead, folder: Path, precision: Precision) -> Path:
    """Writes the backward pass as ``cam.xml`` in ``folder`` (fp16 weights for bf16)."""
    import openvino as ov

    path = folder / CAM_IR_FILE
    ov.save_model(backward_model(head), str(path), compress_to_fp16=precision == "bf16")
    return path


class CompiledCam:
    """The backward pass compiled for the CPU; thread-safe (one request under a lock)."""

    def __init__(self, xml: Path, precision: Precision) -> None:
        core = openvino_core()
        if core is None:
            raise RuntimeError("OpenVINO is not installed.")
        self._compiled = core.compile_model(
            str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        )
        inputs = self._compiled.inputs
        self.classes = int(inputs[0].get_partial_shape()[1].get_length())
        self.hidden = len(inputs) - 1
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()
        runtime.drop_mapped_pages(xml.parent)  # its weights are repacked in the plugin

    @classmethod
    def load(cls, folder: Path, precision: Precision, hidden: int) -> CompiledCam | None:
        """The backward pass saved in ``folder`` when it fits a model with ``hidden``
        hidden activations; None where there is none or it does not compile."""
        xml = folder / CAM_IR_FILE
        if not xml.is_file():
            return None
        try:
            compiled = cls(xml, precision)
        except Exception:  # damaged: the model is explained on TensorFlow instead
            return None
        return compiled if compiled.hidden == hidden else None

    def channel_weights(self, hidden: list[np.ndarray], class_index: int, area: int) -> np.ndarray:
        """Grad-CAM's weight of each channel of the map for ``class_index``."""
        target = np.zeros((1, self.classes), np.float32)
        target[0, class_index] = 1
        masks = [(a.reshape(1, -1) > 0).astype(np.float32) for a in hidden]
        with self._lock:
            result = self._request.infer([target, *masks])
            weights = np.array(result[0], dtype=np.float32).reshape(-1)
        return weights / np.float32(area)

    def heatmap(self, maps: np.ndarray, hidden: list[np.ndarray], class_index: int) -> np.ndarray:
        """The normalised heatmap ``(H, W)`` in [0, 1] of one image's map ``(H, W, C)``."""
        height, width = maps.shape[:2]
        return weighted_heatmap(maps, self.channel_weights(hidden, class_index, height * width))
