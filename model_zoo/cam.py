"""Grad-CAM without TensorFlow: the heatmap from one forward pass of a compiled model whose
IR also outputs the explained feature map and the hidden Dense layers' activations.

From the explained map ``A`` (``H × W × C``) a classifier head is pooling (global average,
or max-pooling and flattening, as VGG's) and Dense layers, the hidden ones with ReLU. The
gradient of class ``k``'s logit is then linear once the ReLU masks are known:
``v = M_last[:, k]``, and back through each hidden layer ``v = M_i @ (v * (a_i > 0))``.
Grad-CAM's channel weights are the spatial mean of the gradient, ``M_0 @ v / (H·W)``,
where ``M_0`` is the first kernel summed over the positions it reads (for global average
pooling, the kernel itself; for a flattened map, the kernel reshaped ``(h, w, C, hidden)``
and summed over ``h, w``: each pooled cell's gradient lands on one position of ``A``, so
the mean over ``A`` needs only their sum). For a global-average-pooling head Grad-CAM is
CAM: one matrix column. ``cam_graph`` writes the matrices at conversion time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CamHead:
    """The classifier head after the explained layer, as the gradient needs it.

    Attributes:
        matrices: ``M_0 (C, h_1)``, ``M_1 (h_1, h_2)``, …, ``M_last (h_n, classes)``; one
            more than the hidden ReLU layers, whose activations the IR outputs after the map.
    """

    matrices: tuple[np.ndarray, ...]

    @property
    def hidden(self) -> int:
        """How many hidden activations ``heatmap`` needs."""
        return len(self.matrices) - 1

    @property
    def classes(self) -> int:
        return int(self.matrices[-1].shape[1])

    def channel_weights(self, hidden: list[np.ndarray], class_index: int, area: int) -> np.ndarray:
        """Grad-CAM's weight of each channel of the map for ``class_index``."""
        v = self.matrices[-1][:, class_index].astype(np.float32)
        for matrix, activation in zip(self.matrices[-2::-1], hidden[::-1], strict=True):
            v = matrix @ (v * (activation.reshape(-1) > 0))
        return v / np.float32(area)

    def heatmap(self, maps: np.ndarray, hidden: list[np.ndarray], class_index: int) -> np.ndarray:
        """The normalised heatmap ``(H, W)`` in [0, 1] of one image's map ``(H, W, C)``."""
        height, width = maps.shape[:2]
        return weighted_heatmap(maps, self.channel_weights(hidden, class_index, height * width))


def weighted_heatmap(maps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Grad-CAM's last step, as TensorFlow's: the ReLU of the channels' weighted sum,
    divided by its maximum."""
    heat = np.maximum(maps.astype(np.float32) @ weights.astype(np.float32), 0)
    return (heat / (heat.max() + np.float32(1e-12))).astype(np.float32)
