"""[detection] (YOLO v1) as torch: `forward_detection_layer` (src/detection_layer.c).
The torch-free side is core.layers.detection (options, shapes, weight layout) and
core.decoding.detection (its boxes)."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.detection import DetectionParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class DetectionModule(DarknetModule):
    """`forward_detection_layer` at inference: the input copied, and with `softmax=1` the
    class scores of each of the side*side cells (stored first) softmaxed."""

    def __init__(self, locations: int, classes: int, softmax: bool):
        super().__init__()
        self.locations = locations
        self.classes = classes
        self.softmax = softmax

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        if not self.softmax:
            return flat
        split = self.locations * self.classes
        scores = flat[:, :split].reshape(-1, self.locations, self.classes)
        scores = torch.softmax(scores, dim=2).reshape(-1, split)
        return torch.cat([scores, flat[:, split:]], dim=1)


@module_for("detection")
def _detection_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(DetectionParams)
    return DetectionModule(p.side * p.side, p.classes, p.softmax)
