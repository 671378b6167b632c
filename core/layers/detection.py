"""[detection] (YOLO v1): Darknet's `parse_detection` (src/parser.c),
`make_detection_layer`, `forward_detection_layer` and `get_detection_detections`
(src/detection_layer.c)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerProblem,
)
from darknet_inspector.core.layers.head import HeadParams, HeadType
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.yolo import check_head_size

DETECTION_TRAINING_KEYS = frozenset({
    "rescore", "max", "coord_scale", "forced", "object_scale", "noobject_scale",
    "class_scale", "jitter", "resize", "random", "reorg",
})


def detection_inputs(side: int, num: int, coords: int, classes: int) -> int:
    """`make_detection_layer` asserts side*side*((1 + coords)*num + classes) == inputs."""
    return side * side * ((1 + coords) * num + classes)


@dataclass(frozen=True, kw_only=True)
class DetectionParams(HeadParams):
    """[detection] as `parse_detection` reads it: a side x side grid of cells, each with
    `num` boxes of 1 + coords values and one set of class scores."""

    coords: int
    num: int
    side: int
    sqrt: bool = False
    softmax: bool = False

    @property
    def required_inputs(self) -> int:
        return detection_inputs(self.side, self.num, self.coords, self.classes)

    @property
    def input_rule(self) -> str:
        return (f"side*side*((1 + coords)*num + classes) = {self.side}*{self.side}*((1 + "
                f"{self.coords})*{self.num} + {self.classes})")


@register
class Detection(HeadType):
    name = "detection"
    known_keys = DETECTION_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        coords = s.int("coords", 1)
        classes = s.int("classes", 1)
        num = s.int("num", 1)
        side = s.int("side", 7)
        if min(coords, classes) < 0 or min(num, side) < 1:
            raise LayerProblem(f"[detection] coords={coords}, classes={classes}, num={num} "
                               f"and side={side} must be positive", s.line)
        params = DetectionParams(classes=classes, coords=coords, num=num, side=side,
                                 sqrt=bool(s.int("sqrt", 0)), softmax=bool(s.int("softmax", 0)))
        check_head_size(ctx, inputs, params.required_inputs, params.input_rule, "inputs")
        return Built((inputs,), params, runnable=inputs == params.required_inputs,
                     summary=f"{classes} classes, {side}x{side}x{num}")

    def required_inputs(self, layer: Layer) -> int:
        return layer.params_as(DetectionParams).required_inputs


