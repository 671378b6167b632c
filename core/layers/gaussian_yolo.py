"""[Gaussian_yolo]: Darknet's `parse_gaussian_yolo` (src/parser.c) and
`forward_gaussian_yolo_layer` (src/gaussian_yolo_layer.c)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from darknet_inspector.core.cfg import Section
from darknet_inspector.core.layers.base import BuildContext, Built, DarknetModule, Layer
from darknet_inspector.core.layers.head import Decoded, Size, anchor_rows, cell_entries
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.yolo import (
    MaskedHeadParams,
    MaskedHeadType,
    masked_head_params,
)

GAUSSIAN_TRAINING_KEYS = frozenset({
    "max", "max_delta", "counters_per_class", "label_smooth_eps", "objectness_smooth",
    "uc_normalizer", "iou_normalizer", "obj_normalizer", "cls_normalizer", "delta_normalizer",
    "iou_loss", "iou_thresh_kind", "jitter", "resize", "ignore_thresh", "truth_thresh",
    "iou_thresh", "random", "map",
})
BOX_ENTRIES = 8
YOLO_POINTS = ("center", "left_top", "right_bottom")
LOGISTIC_ENTRIES = (0, 1, 2, 3, 5, 7)
SCALED_ENTRIES = (0, 2)


def gaussian_yolo_point(section: Section) -> str:
    """`yolo_point`: left_top or right_bottom, anything else is the centre."""
    point = section.str("yolo_point", "center")
    return point if point in YOLO_POINTS else "center"


@dataclass(frozen=True, kw_only=True)
class GaussianYoloParams(MaskedHeadParams):
    """[Gaussian_yolo]: the shared head facts (8 box entries: 4 means, 4 uncertainties)
    plus `yolo_point`."""

    box_entries: ClassVar[int] = BOX_ENTRIES
    yolo_point: str = "center"


@register
class GaussianYolo(MaskedHeadType):
    name = "Gaussian_yolo"
    known_keys = GAUSSIAN_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        c, h, w = ctx.require_chw()
        params = masked_head_params(ctx, GaussianYoloParams,
                                    yolo_point=gaussian_yolo_point(ctx.section))
        return Built((c, h, w), params, runnable=c == params.required_channels,
                     summary=f"{params.classes} classes, mask {list(params.mask)}")

    def module(self, layer: Layer) -> nn.Module:
        p = layer.params_as(GaussianYoloParams)
        return GaussianYoloModule(len(p.mask), p.classes, p.scale_x_y)

    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_gaussian_yolo(layer.params_as(GaussianYoloParams), output, input_size)


YOLO_POINT_SHIFT = {"center": 0.0, "left_top": 0.5, "right_bottom": -0.5}


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
