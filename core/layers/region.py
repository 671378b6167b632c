"""[region] (YOLOv2): Darknet's `parse_region` (src/parser.c) and `forward_region_layer`
(src/region_layer.c)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerProblem,
)
from darknet_inspector.core.layers.head import (
    HeadParams,
    HeadType,
    Size,
    anchor_pairs,
)
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.tree_option import given_tree_file
from darknet_inspector.core.layers.yolo import check_head_filters, parse_anchors

REGION_TRAINING_KEYS = frozenset({
    "max", "log", "sqrt", "focal_loss", "jitter", "resize", "rescore", "thresh",
    "absolute", "random", "coord_scale", "object_scale", "noobject_scale", "mask_scale",
    "class_scale", "bias_match",
})
OBJECTNESS_ENTRY = 4
FIRST_CLASS_ENTRY = 5


@dataclass(frozen=True, kw_only=True)
class RegionParams(HeadParams):
    """[region] as `parse_region` reads it: `num` anchors (in grid cells), each with
    coords + 1 + classes entries; `softmax` over the classes; a `tree=` or `map=` file
    name (YOLO9000), never opened. `hierarchy`: the tree file the user gave for `tree=`
    (core.darknet_tree); with it the classes get the hierarchical softmax.
    `map=` changes nothing at inference: Darknet reads it into `l.map`, which only the
    training branch of `forward_region_layer` uses (`detector test` passes map=0 to
    `get_network_boxes`, src/detector.c). `classfix`: -1 zeroes an objectness below .5
    when `detector test` decodes the boxes (`get_region_boxes`); its other values (1, 2)
    only change the training deltas."""

    coords: int
    num: int
    anchors: tuple[float, ...]
    softmax: bool = False
    tree: str | None = None
    map: str | None = None
    classfix: int = 0
    hierarchy: DarknetTree | None = field(default=None, repr=False, compare=False)

    @property
    def entries(self) -> int:
        return self.coords + 1 + self.classes

    @property
    def required_channels(self) -> int:
        """`make_region_layer`: outputs = num * (coords + 1 + classes)."""
        return self.num * self.entries

    @property
    def channel_rule(self) -> str:
        return (f"num * (coords + 1 + classes) = {self.num} * ({self.coords} + 1 + "
                f"{self.classes})")

    @property
    def anchor_boxes(self) -> list[tuple[float, float]]:
        return anchor_pairs(self.anchors, range(self.num))


@register
class Region(HeadType):
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
        params = RegionParams(classes=classes, coords=coords, num=num, anchors=tuple(anchors),
                              softmax=bool(s.int("softmax", 0)), tree=s.str("tree"),
                              map=s.str("map"), classfix=s.int("classfix", 0))
        check_head_filters(ctx, params.required_channels, params.channel_rule)
        runnable = c == params.required_channels
        refusal = None
        if params.tree:
            params, refusal = with_tree_file(ctx, params)
            runnable = runnable and refusal is None
        if coords < OBJECTNESS_ENTRY:
            runnable = False
            ctx.warn(f"[region] coords={coords}: Darknet always reads objectness at entry 4 "
                     "and classes from entry 5, past this layer's entries; not run by this "
                     "tool", s.line_of("coords"))
        return Built((c, h, w), params, runnable=runnable, refusal=refusal,
                     summary=f"{classes} classes, {num} anchors")

    def darknet_output(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        return region_location_major(output, layer.built_shape)

    def required_inputs(self, layer: Layer) -> int:
        return layer.params_as(RegionParams).required_channels

    def anchor_boxes(self, layer: Layer) -> list[tuple[float, float]]:
        return layer.params_as(RegionParams).anchor_boxes

    def opencv_layout(self, layer: Layer, output: np.ndarray, input_size: Size
                      ) -> np.ndarray | None:
        p = layer.params_as(RegionParams)
        if layer.output_shape is None:
            return None
        _, h, w = layer.output_shape
        return region_as_opencv(self.darknet_output(layer, output), h, w, p.anchor_boxes,
                                p.classes)


def with_tree_file(ctx: BuildContext, params: RegionParams) -> tuple[RegionParams, str | None]:
    """A `tree=` [region] (YOLO9000) with the tree file the user gave
    (core.layers.tree_option): the params with the tree, or why the layer cannot run."""
    tree, refusal = given_tree_file(ctx, params.tree or "", params.classes)
    return (replace(params, hierarchy=tree) if tree is not None else params), refusal


def region_as_opencv(output: np.ndarray, h: int, w: int, anchors: list[tuple[float, float]],
                     classes: int) -> np.ndarray:
    """A [region] layer's Darknet output ([H*W][n][5+C], x/y/w/h raw, objectness logistic,
    classes softmaxed) as OpenCV's Region layer lays it out with thresh=0 and no NMS."""
    a = len(anchors)
    v = output.reshape(h, w, a, 5 + classes).astype(np.float64)
    out = np.empty_like(v)
    cols = np.arange(w).reshape(1, w, 1)
    rows = np.arange(h).reshape(h, 1, 1)
    aw = np.array([p[0] for p in anchors]).reshape(1, 1, a)
    ah = np.array([p[1] for p in anchors]).reshape(1, 1, a)
    out[..., 0] = (cols + _logistic(v[..., 0])) / w
    out[..., 1] = (rows + _logistic(v[..., 1])) / h
    out[..., 2] = np.exp(v[..., 2]) * aw / w
    out[..., 3] = np.exp(v[..., 3]) * ah / h
    out[..., 4] = v[..., 4]
    out[..., 5:] = v[..., 4:5] * v[..., 5:]
    return out.reshape(h * w * a, 5 + classes)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def region_location_major(output: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`forward_region_layer` on the CPU first calls `flatten(l.output, w*h, size*n, ...)`
    (src/blas.c): the memory becomes [H*W][n][E]; returned with the (C, H, W) shape."""
    c, h, w = shape
    return np.ascontiguousarray(output.reshape(c, h * w).T).reshape(c, h, w)


