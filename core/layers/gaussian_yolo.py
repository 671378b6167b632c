"""[Gaussian_yolo]: Darknet's `parse_gaussian_yolo` (src/parser.c) and
`forward_gaussian_yolo_layer` (src/gaussian_yolo_layer.c)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from darknet_inspector.core.layers.base import BuildContext, Built, DarknetModule, Layer, LayerType
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.yolo import masked_head_params

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


def gaussian_yolo_point(section) -> str:
    """`yolo_point`: left_top or right_bottom, anything else is the centre."""
    point = section.str("yolo_point", "center")
    return point if point in YOLO_POINTS else "center"


@register
class GaussianYolo(LayerType):
    name = "Gaussian_yolo"
    known_keys = GAUSSIAN_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        c, h, w = ctx.require_chw()
        params, expected = masked_head_params(ctx, box_entries=BOX_ENTRIES)
        params["yolo_point"] = gaussian_yolo_point(ctx.section)
        return Built((c, h, w), params, runnable=c == expected,
                     summary=f"{params['classes']} classes, mask {params['mask']}")

    def module(self, layer: Layer) -> nn.Module:
        p = layer.params
        return GaussianYoloModule(len(p["mask"]), p["classes"], p["scale_x_y"])


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
