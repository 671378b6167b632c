"""[yolo] as torch: `forward_yolo_layer` (src/yolo_layer.c) and how `get_yolo_detections`
decodes its output. The torch-free side
(options, shapes, weight layout) is core.layers.yolo."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.yolo import YoloParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.head import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
)
from darknet_inspector.core.torch_layers.registry import decoder_for, module_for


def decode_yolo(params: YoloParams, output: Tensor, input_size: Size) -> Decoded:
    """`get_yolo_detections` / `get_yolo_box` (src/yolo_layer.c): x, y already logistic
    and scale_x_y-shifted by the layer; w, h = exp(t)*anchor/net (new_coords=0) or
    t*t*4*anchor/net (new_coords=1), anchors in input pixels; prob = objectness * class."""
    _, h, w = output.shape
    entries, col, row = cell_entries(output, len(params.mask))
    anchor = anchor_rows(params.anchor_boxes, h * w, output.device)
    net = torch.tensor(input_size, dtype=output.dtype, device=output.device)
    t_wh = entries[:, 2:4]
    scale = t_wh * t_wh * 4 if params.new_coords else torch.exp(t_wh)
    boxes = torch.stack([(col + entries[:, 0]) / w, (row + entries[:, 1]) / h], dim=1)
    boxes = torch.cat([boxes, scale * anchor / net], dim=1)
    objectness = entries[:, 4]
    return Decoded(boxes, objectness, objectness[:, None] * entries[:, 5:])


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


@decoder_for("yolo")
class YoloDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_yolo(layer.params_as(YoloParams), output, input_size)
