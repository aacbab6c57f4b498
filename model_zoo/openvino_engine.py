"""A converted model compiled on OpenVINO's CPU plugin: the Compare models' engine, and a
fine-tuned model's. Its IR's first output is the probabilities; an IR converted with
Grad-CAM's outputs also gives the explained map and hidden activations (``cam_graph``),
and its backward pass is compiled from beside it on first use (``openvino_cam``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from model_zoo import runtime
from model_zoo.engine_choice import Precision, openvino_core
from model_zoo.openvino_cam import CompiledCam


class OpenVINOEngine:
    """A compiled OpenVINO model (preprocessing inside), latency-tuned for the CPU.

    Its first output is the probabilities; where the IR was converted with Grad-CAM's
    outputs (the explained map and hidden activations), ``cam`` compiles the backward pass
    saved beside the IR on first use.

    Args:
        xml: The IR.
        precision: The inference precision.
        max_batch: Images per request; a longer batch is run in slices. The CPU plugin keeps
            its buffers sized for the largest batch it has seen (twelve photos compared at
            once kept 1.35 GB more) until ``release_buffers``.
    """

    def __init__(self, xml: Path, precision: Precision, max_batch: int = 1) -> None:
        core = openvino_core()
        if core is None:
            raise RuntimeError("OpenVINO is not installed.")
        self.xml = xml
        self.precision = precision
        self.max_batch = max_batch
        self.label = f"OpenVINO {precision}"
        self.compiled = core.compile_model(
            str(xml),
            "CPU",
            {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision},
        )
        self._request = self.compiled.create_infer_request()
        self._cam: CompiledCam | bool | None = False  # False: not read yet
        self._cam_lock = threading.Lock()
        given = self.compiled.inputs[0]
        size = given.get_partial_shape()[1]
        if size.is_static:  # a first run, where the plugin finishes setting up, then
            side = size.get_length()
            self._request.infer(np.zeros((1, side, side, 3), given.get_element_type().to_dtype()))
        runtime.drop_mapped_pages(xml.parent)  # the weights file: repacked, never read again
        runtime.release_free_memory()  # the IR's buffers, once the weights are repacked

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        step = self.max_batch
        # np.array copies: the request reuses its output buffer
        parts = [
            np.array(self._request.infer(pixels[i : i + step])[0], dtype=np.float32)
            for i in range(0, len(pixels), step)
        ]
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def release_buffers(self) -> None:
        """Lets go of the intermediate buffers (sized for the largest batch run); the next
        call allocates what it needs."""
        self.compiled.release_memory()
        runtime.release_free_memory()

    @property
    def cam(self) -> CompiledCam | None:
        """Grad-CAM's backward pass, compiled on first use; None where the IR has no
        Grad-CAM outputs."""
        with self._cam_lock:
            if self._cam is False:
                hidden = len(self.compiled.outputs) - 2
                self._cam = CompiledCam.load(self.xml.parent, self.precision, hidden)
        return self._cam if isinstance(self._cam, CompiledCam) else None

    def outputs(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Every output (probabilities, then Grad-CAM's) for one batch, copied."""
        result = self._request.infer(pixels)
        return [np.array(result[i], dtype=np.float32) for i in range(len(self.compiled.outputs))]
