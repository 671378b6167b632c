"""[Gaussian_yolo]: Darknet's `parse_gaussian_yolo` (src/parser.c) and
`forward_gaussian_yolo_layer` (src/gaussian_yolo_layer.c)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from darknet_inspector.core.cfg import Section
from darknet_inspector.core.layers.base import BuildContext, Built
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


YOLO_POINT_SHIFT = {"center": 0.0, "left_top": 0.5, "right_bottom": -0.5}


