"""[region] (YOLOv2): Darknet's `parse_region` (src/parser.c) and `forward_region_layer`
(src/region_layer.c)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    DarknetModule,
    Layer,
    LayerProblem,
    LayerType,
)
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.yolo import check_head_filters, parse_anchors

REGION_TRAINING_KEYS = frozenset({
    "max", "log", "sqrt", "focal_loss", "jitter", "resize", "rescore", "thresh", "classfix",
    "absolute", "random", "coord_scale", "object_scale", "noobject_scale", "mask_scale",
    "class_scale", "bias_match",
})
OBJECTNESS_ENTRY = 4
FIRST_CLASS_ENTRY = 5


@register
class Region(LayerType):
    name = "region"
    known_keys = REGION_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        coords = s.int("coords", 4)
        classes = s.int("classes", 20)
        num = s.int("num", 1)
        if coords < 0 or classes < 0 or num < 1:
            raise LayerProblem(f"[region] coords={coords}, classes={classes} and num={num} "
                               "must be positive", s.line)
        anchors = parse_anchors(ctx, num)
        entries = coords + 1 + classes
        check_head_filters(ctx, num * entries, f"num * (coords + 1 + classes) = {num} * "
                           f"({coords} + 1 + {classes})")
        tree = s.str("tree")
        runnable = c == num * entries
        if tree:
            runnable = False
            ctx.warn(f"[region] tree={tree}: the hierarchical softmax needs that tree file; "
                     "this layer is not run by this tool (shapes are shown)", s.line_of("tree"))
        if coords < OBJECTNESS_ENTRY:
            runnable = False
            ctx.warn(f"[region] coords={coords}: Darknet always reads objectness at entry 4 "
                     "and classes from entry 5, past this layer's entries; not run by this "
                     "tool", s.line_of("coords"))
        params = dict(classes=classes, coords=coords, num=num, anchors=anchors,
                      softmax=bool(s.int("softmax", 0)), tree=tree, map=s.str("map"),
                      nms_kind="default", beta_nms=0.6)
        return Built((c, h, w), params, runnable=runnable,
                     summary=f"{classes} classes, {num} anchors")

    def module(self, layer: Layer) -> nn.Module:
        p = layer.params
        return RegionModule(p["num"], p["coords"] + 1 + p["classes"], p["classes"],
                            p["softmax"])

    def darknet_output(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        return region_location_major(output, layer.output_shape)


def region_location_major(output: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`forward_region_layer` on the CPU first calls `flatten(l.output, w*h, size*n, ...)`
    (src/blas.c): the memory becomes [H*W][n][E]; returned with the (C, H, W) shape."""
    c, h, w = shape
    return np.ascontiguousarray(output.reshape(c, h * w).T).reshape(c, h, w)


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
