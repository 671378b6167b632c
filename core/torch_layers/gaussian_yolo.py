"""[Gaussian_yolo] as torch: `forward_gaussian_yolo_layer` (src/gaussian_yolo_layer.c).
The torch-free side is core.layers.gaussian_yolo (options, shapes, weight layout) and
core.decoding.gaussian_yolo (its boxes)."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.gaussian_yolo import (
    BOX_ENTRIES,
    LOGISTIC_ENTRIES,
    SCALED_ENTRIES,
    GaussianYoloParams,
)
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class GaussianYoloModule(DarknetModule):
    """`forward_gaussian_yolo_layer` at inference: logistic on the x, y means and on the
    x, y, w, h uncertainties (entries 0, 1, 2, 3, 5, 7), on objectness and classes; then
    the x and y means (entries 0, 2) scaled by scale_x_y around the cell centre."""

    def __init__(self, anchors: int, classes: int, scale_x_y: float):
        super().__init__()
        self.anchors = anchors
        self.entries = BOX_ENTRIES + 1 + classes
        self.scale_x_y = scale_x_y

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        v = x.view(b, self.anchors, self.entries, h, w)
        entries = list(v.unbind(dim=2))
        for e in LOGISTIC_ENTRIES:
            entries[e] = torch.sigmoid(entries[e])
        for e in SCALED_ENTRIES:
            entries[e] = entries[e] * self.scale_x_y - 0.5 * (self.scale_x_y - 1.0)
        head = torch.stack(entries[:BOX_ENTRIES], dim=2)
        rest = torch.sigmoid(v[:, :, BOX_ENTRIES:])
        return torch.cat([head, rest], dim=2).view(b, c, h, w)


@module_for("Gaussian_yolo")
def _gaussian_yolo_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(GaussianYoloParams)
    return GaussianYoloModule(len(p.mask), p.classes, p.scale_x_y)
