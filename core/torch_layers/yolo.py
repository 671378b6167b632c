"""[yolo] as torch: `forward_yolo_layer` (src/yolo_layer.c). The torch-free side is
core.layers.yolo (options, shapes, weight layout) and core.decoding.yolo (its boxes)."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.yolo import YoloParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class YoloModule(DarknetModule):
    """`forward_yolo_layer` at inference: logistic on x, y, objectness and classes (none
    with new_coords), then x, y scaled by scale_x_y around the cell centre."""

    def __init__(self, anchors: int, classes: int, scale_x_y: float, new_coords: bool):
        super().__init__()
        self.anchors = anchors
        self.classes = classes
        self.scale_x_y = scale_x_y
        self.new_coords = new_coords

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        entries = 5 + self.classes
        if c != self.anchors * entries:
            return x
        v = x.view(b, self.anchors, entries, h, w)
        xy, wh, rest = v[:, :, 0:2], v[:, :, 2:4], v[:, :, 4:]
        if not self.new_coords:
            xy = torch.sigmoid(xy)
            rest = torch.sigmoid(rest)
        if self.scale_x_y != 1.0:
            xy = xy * self.scale_x_y - 0.5 * (self.scale_x_y - 1.0)
        return torch.cat([xy, wh, rest], dim=2).view(b, c, h, w)


@module_for("yolo")
def _yolo_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(YoloParams)
    return YoloModule(len(p.mask), p.classes, p.scale_x_y, p.new_coords)
