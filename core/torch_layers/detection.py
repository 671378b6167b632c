"""[detection] (YOLO v1) as torch: `forward_detection_layer` and
`get_detection_detections` (src/detection_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.detection."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.detection import DetectionParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.head import Decoded, HeadDecoder, Size
from darknet_inspector.core.torch_layers.registry import decoder_for, module_for


def detection_box_values(p: DetectionParams, flat: Tensor) -> Tensor:
    """`get_detection_detections` reads 4 values per box from side*side*(classes + num) on,
    whatever `coords` says; (side*side*num, 4), or a clear error when they run past."""
    cells = p.side * p.side
    start = cells * (p.classes + p.num)
    end = start + cells * p.num * 4
    if end > flat.numel():
        raise InspectorError(f"[detection] coords={p.coords}: Darknet reads 4 box values per "
                             f"box, {end} values in all, but the layer holds {flat.numel()}")
    return flat[start:end].reshape(-1, 4)


def decode_detection(p: DetectionParams, output: Tensor) -> Decoded:
    """`get_detection_detections` (src/detection_layer.c, YOLOv1): the output holds every
    cell's class scores, then each box's scale, then each box's x, y, w, h; cells
    row-major, boxes of a cell fastest. x = (x + col)/side, y = (y + row)/side, w and h
    raw (squared with `sqrt=1`); prob = scale * class score of the box's cell. Every box
    is a candidate (no objectness gate; a prob at or below thresh is zeroed)."""
    flat = output.reshape(-1)
    cells = p.side * p.side
    values = detection_box_values(p, flat)
    box = torch.arange(cells * p.num, device=flat.device)
    cell = torch.div(box, p.num, rounding_mode="floor")
    col = (cell % p.side).to(flat.dtype)
    row = torch.div(cell, p.side, rounding_mode="floor").to(flat.dtype)
    size = values[:, 2:4] ** 2 if p.sqrt else values[:, 2:4]
    boxes = torch.cat([((values[:, 0] + col) / p.side)[:, None],
                       ((values[:, 1] + row) / p.side)[:, None], size], dim=1)
    scale = flat[cells * p.classes:cells * (p.classes + p.num)]
    classes = flat[:cells * p.classes].reshape(cells, p.classes)[cell]
    gate = torch.full((box.numel(),), float("inf"), device=flat.device)
    return Decoded(boxes, gate, scale[:, None] * classes)


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


@decoder_for("detection")
class DetectionDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_detection(layer.params_as(DetectionParams), output)

    def objectness(self, layer: Layer, output: Tensor) -> Tensor:
        """Each box's scale, (num, side, side)."""
        p = layer.params_as(DetectionParams)
        cells = p.side * p.side
        start = cells * p.classes
        scales = output.reshape(-1)[start:start + cells * p.num].reshape(p.side, p.side, p.num)
        return scales.permute(2, 0, 1)
