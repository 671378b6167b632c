"""[Gaussian_yolo] as torch: `forward_gaussian_yolo_layer` and its box decoding
(src/gaussian_yolo_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.gaussian_yolo."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.gaussian_yolo import (
    BOX_ENTRIES,
    LOGISTIC_ENTRIES,
    SCALED_ENTRIES,
    YOLO_POINT_SHIFT,
    GaussianYoloParams,
)
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.head import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
)
from darknet_inspector.core.torch_layers.registry import decoder_for, module_for


def decode_gaussian_yolo(params: GaussianYoloParams, output: Tensor, input_size: Size
                         ) -> Decoded:
    """`get_gaussian_yolo_detections` / `get_gaussian_yolo_box` (src/gaussian_yolo_layer.c):
    box means in entries 0, 2, 4, 6 (exp w, h), their uncertainties in 1, 3, 5, 7;
    prob = objectness * class * (1 - mean uncertainty); `yolo_point` moves the centre."""
    _, h, w = output.shape
    entries, col, row = cell_entries(output, len(params.mask))
    anchor = anchor_rows(params.anchor_boxes, h * w, output.device)
    net = torch.tensor(input_size, dtype=output.dtype, device=output.device)
    wh = torch.exp(entries[:, [4, 6]]) * anchor / net
    xy = torch.stack([(col + entries[:, 0]) / w, (row + entries[:, 2]) / h], dim=1)
    xy = xy + YOLO_POINT_SHIFT.get(params.yolo_point.lower(), 0.0) * wh
    uncertainty = entries[:, [1, 3, 5, 7]].mean(dim=1, keepdim=True)
    objectness = entries[:, 8]
    probs = objectness[:, None] * entries[:, 9:] * (1 - uncertainty)
    return Decoded(torch.cat([xy, wh], dim=1), objectness, probs)


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


@decoder_for("Gaussian_yolo")
class GaussianYoloDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_gaussian_yolo(layer.params_as(GaussianYoloParams), output, input_size)
