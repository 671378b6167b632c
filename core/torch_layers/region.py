"""The torch modules of core.layers.region."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.region import FIRST_CLASS_ENTRY, OBJECTNESS_ENTRY, RegionParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.head import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
)
from darknet_inspector.core.torch_layers.registry import decoder_for, module_for


def decode_region(params: RegionParams, output: Tensor, input_size: Size) -> Decoded:
    """`get_region_boxes` / `get_region_box` (src/region_layer.c, YOLOv2): x, y arrive raw
    and go through the logistic here, w, h = exp(t)*anchor/grid (anchors in grid cells);
    objectness (entry 4, logistic) and classes (from entry 5, softmax) come from the layer;
    every box is a candidate (`custom_get_region_detections` sets objectness 1),
    prob = objectness * class."""
    classes = params.classes
    _, h, w = output.shape
    entries, col, row = cell_entries(output, params.num)
    anchor = anchor_rows(params.anchor_boxes, h * w, output.device)
    grid = torch.tensor((w, h), dtype=output.dtype, device=output.device)
    xy = torch.sigmoid(entries[:, 0:2])
    boxes = torch.stack([(col + xy[:, 0]) / w, (row + xy[:, 1]) / h], dim=1)
    boxes = torch.cat([boxes, torch.exp(entries[:, 2:4]) * anchor / grid], dim=1)
    gate = torch.full((entries.shape[0],), float("inf"), device=output.device)
    probs = entries[:, 4:5] * entries[:, 5:5 + classes]
    return Decoded(boxes, gate, probs)


class RegionModule(DarknetModule):
    """`forward_region_layer` at inference, kept channel-major ([n][E][H][W]): logistic on
    objectness (entry 4), softmax over the classes (from entry 5) when `softmax=1`;
    x, y, w, h raw."""

    def __init__(self, num: int, entries: int, classes: int, softmax: bool):
        super().__init__()
        self.num = num
        self.entries = entries
        self.classes = classes
        self.softmax = softmax

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        v = x.view(b, self.num, self.entries, h, w)
        head = v[:, :, :OBJECTNESS_ENTRY]
        objectness = torch.sigmoid(v[:, :, OBJECTNESS_ENTRY:FIRST_CLASS_ENTRY])
        classes = v[:, :, FIRST_CLASS_ENTRY:FIRST_CLASS_ENTRY + self.classes]
        if self.softmax:
            classes = torch.softmax(classes, dim=2)
        rest = v[:, :, FIRST_CLASS_ENTRY + self.classes:]
        return torch.cat([head, objectness, classes, rest], dim=2).view(b, c, h, w)


@module_for("region")
def _region_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(RegionParams)
    return RegionModule(p.num, p.entries, p.classes, p.softmax)


@decoder_for("region")
class RegionDecoder(HeadDecoder):
    def objectness(self, layer: Layer, output: Tensor) -> Tensor:
        """Entry `coords` of each anchor (logistic already applied by the layer)."""
        p = layer.params_as(RegionParams)
        _, h, w = output.shape
        return output.reshape(p.num, -1, h, w)[:, p.coords]

    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_region(layer.params_as(RegionParams), output, input_size)
