"""[yolo]: Darknet's `parse_yolo` (src/parser.c) and `forward_yolo_layer`
(src/yolo_layer.c), plus the filters check every detection head shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from darknet_inspector.core.cfg import Section
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
from darknet_inspector.core.limits import MAX_ANCHORS

YOLO_TRAINING_KEYS = frozenset({
    "jitter", "ignore_thresh", "truth_thresh", "random", "iou_thresh", "iou_loss",
    "iou_normalizer", "obj_normalizer", "cls_normalizer", "delta_normalizer", "uc_normalizer",
    "max", "max_delta", "counters_per_class", "label_smooth_eps", "objectness_smooth",
    "focal_loss", "resize", "show_details", "iou_thresh_kind", "track_history_size",
    "sim_thresh", "dets_for_track", "dets_for_show", "track_ciou_norm", "embedding_layer",
    "map", "yolo_point",
})


FEEDER_SIZE_OPTION = {"convolutional": "filters", "connected": "output"}


def feeder_size_fix(ctx: BuildContext, expected: int, unit: str) -> str:
    """How to make the layer feeding this one produce `expected` values: the option and
    line to change when it is a [convolutional] (filters=) or [connected] (output=)."""
    feeder = ctx.layers[ctx.index - 1] if ctx.index > 0 else None
    option = FEEDER_SIZE_OPTION.get(feeder.type) if feeder is not None else None
    if feeder is not None and option is not None:
        line = feeder.section.line_of(option)
        return f"set {option}={expected} on line {line} (layer {feeder.index}, [{feeder.type}])"
    where = f"layer {feeder.index} [{feeder.section.name}]" if feeder else "the input"
    return f"make {where} output {expected} {unit}"


def check_head_size(ctx: BuildContext, got: int, expected: int, rule: str,
                    noun: str = "input channels") -> None:
    """A head's input size must equal its rule (e.g. (classes + 5) * len(mask)); Darknet
    only exits with "filters= ... doesn't correspond to classes=", we name the fix."""
    if got == expected:
        return
    s = ctx.section
    unit = "channels" if noun.endswith("channels") else "values"
    ctx.error(f"[{s.name}] on line {s.line} needs {rule} = {expected} {noun} but "
              f"gets {got}: {feeder_size_fix(ctx, expected, unit)}", s.line)


def check_head_filters(ctx: BuildContext, expected: int, rule: str) -> None:
    """The channel form of `check_head_size` used by [yolo], [Gaussian_yolo], [region]."""
    check_head_size(ctx, ctx.require_chw()[0], expected, rule)


def parse_head_counts(ctx: BuildContext) -> tuple[int, int]:
    """`classes` (default 20) and `num` (default 1) as `parse_yolo` reads them."""
    s = ctx.section
    classes = s.int("classes", 20)
    total = s.int("num", 1)
    if classes < 0 or total < 1:
        raise LayerProblem(f"[{s.name}] classes={classes} and num={total} must be positive",
                           s.line)
    return classes, total


def parse_mask(ctx: BuildContext, total: int) -> list[int]:
    """`parse_yolo_mask`: no mask means every anchor 0..num-1. Darknet never checks the
    entries: one at or past num reads past its anchor array (src/yolo_layer.c reads
    `biases[2*mask[n]]`, allocated for num pairs): warned when anchors= lists values for
    it (the zoo's cspx-p7-mish does), refused when it lists none (nothing defines the
    box); negative ones are refused."""
    s = ctx.section
    check_anchor_count(ctx, total, "num")
    mask = s.ints("mask")
    if mask is None:
        return list(range(total))
    for m in mask:
        if m < 0:
            raise LayerProblem(f"[{s.name}] mask entry {m} is negative (valid: 0..{total - 1})",
                               s.line_of("mask"))
    beyond = [m for m in mask if m >= total]
    check_anchor_count(ctx, max(beyond) + 1 if beyond else 0, "mask")
    listed = len(s.floats("anchors", []) or []) // 2
    unlisted = [m for m in beyond if m >= listed]
    if unlisted:
        raise LayerProblem(
            f"[{s.name}] mask entries {','.join(map(str, unlisted))} point past the num={total} "
            f"anchors and past the {listed} anchor pairs listed: Darknet reads memory past its "
            "anchor array there (boxes of undefined size), so this model cannot be run as "
            f"Darknet runs it. Fix mask= or list anchors for them and set num=", s.line_of("mask"))
    if beyond:
        ctx.warn(f"[{s.name}] mask entries {','.join(map(str, beyond))} point past the "
                 f"num={total} anchors: Darknet reads past its anchor array there (undefined "
                 f"boxes); this tool takes them from anchors= as if num={max(beyond) + 1}. "
                 f"Set num={max(beyond) + 1} on line {s.line_of('num')} or fix mask=",
                 s.line_of("mask"))
    return mask


def check_anchor_count(ctx: BuildContext, count: int, key: str) -> None:
    """Refuse an anchor count no real head has (the anchor table is built in memory)."""
    if count > MAX_ANCHORS:
        s = ctx.section
        raise LayerProblem(f"[{s.name}] {key}= asks for {count:,} anchors, more than the "
                           f"{MAX_ANCHORS:,} this tool accepts: check {key}=", s.line_of(key))


MISSING_ANCHOR = 0.5


def parse_anchors(ctx: BuildContext, total: int, needed: int | None = None) -> list[float]:
    """`anchors=` as pairs: Darknet reads at most 2*num values; the ones it lacks keep the
    0.5 `make_yolo_layer` / `make_region_layer` start with. `needed` pairs past num (a
    mask pointing past num) come from the extra values listed, else 0.5."""
    s = ctx.section
    check_anchor_count(ctx, total, "num")
    values = s.floats("anchors", []) or []
    if len(values) < 2 * total:
        ctx.warn(f"[{s.name}] num={total} needs {2 * total} anchor values but "
                 f"anchors= has {len(values)}; Darknet uses {MISSING_ANCHOR} for the missing "
                 "ones", s.line_of("anchors"))
    count = 2 * max(total, needed or 0)
    return (values + [MISSING_ANCHOR] * count)[:count]


def head_nms_options(section: Section) -> dict[str, Any]:
    """`nms_kind` and `beta_nms` as `parse_yolo` reads them."""
    return dict(nms_kind=section.str("nms_kind", "default"),
                beta_nms=section.float("beta_nms", 0.6))


@dataclass(frozen=True, kw_only=True)
class MaskedHeadParams(HeadParams):
    """What `parse_yolo` and `parse_gaussian_yolo` share: `num` anchors listed, the
    `mask` of those this head predicts with, `scale_x_y`. Each anchor's entries are
    `box_entries` box values, objectness, then the classes."""

    box_entries: ClassVar[int] = 4
    num: int
    mask: tuple[int, ...]
    anchors: tuple[float, ...]
    scale_x_y: float = 1.0

    @property
    def entries(self) -> int:
        return self.box_entries + 1 + self.classes

    @property
    def required_channels(self) -> int:
        """`make_yolo_layer` / `make_gaussian_yolo_layer`: outputs = len(mask) * entries."""
        return self.entries * len(self.mask)

    @property
    def channel_rule(self) -> str:
        per_anchor = self.box_entries + 1
        return (f"(classes + {per_anchor}) * len(mask) = ({self.classes} + {per_anchor}) * "
                f"{len(self.mask)}")

    @property
    def anchor_boxes(self) -> list[tuple[float, float]]:
        return anchor_pairs(self.anchors, self.mask)


M = TypeVar("M", bound=MaskedHeadParams)


def masked_head_params(ctx: BuildContext, kind: type[M], **extra: Any) -> M:
    """Parse classes, num, mask, anchors, scale_x_y and the NMS options once into `kind`
    (plus its own `extra` facts), and check the input against its channel rule."""
    s = ctx.section
    classes, total = parse_head_counts(ctx)
    mask = parse_mask(ctx, total)
    anchors = parse_anchors(ctx, total, max(mask, default=0) + 1)
    params = kind(classes=classes, num=total, mask=tuple(mask), anchors=tuple(anchors),
                  scale_x_y=s.float("scale_x_y", 1.0), **head_nms_options(s), **extra)
    check_head_filters(ctx, params.required_channels, params.channel_rule)
    return params


@dataclass(frozen=True, kw_only=True)
class YoloParams(MaskedHeadParams):
    """[yolo]: the shared head facts plus `new_coords` (scaled-YOLOv4 box decoding)."""

    new_coords: bool = False


class MaskedHeadType(HeadType):
    """What [yolo] and [Gaussian_yolo] answer alike: rule and anchors from the mask."""

    def required_inputs(self, layer: Layer) -> int:
        return layer.params_as(MaskedHeadParams).required_channels

    def anchor_boxes(self, layer: Layer) -> list[tuple[float, float]]:
        return layer.params_as(MaskedHeadParams).anchor_boxes


@register
class Yolo(MaskedHeadType):
    name = "yolo"
    known_keys = YOLO_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        c, h, w = ctx.require_chw()
        params = masked_head_params(ctx, YoloParams,
                                    new_coords=bool(ctx.section.int("new_coords", 0)))
        return Built((c, h, w), params,
                     summary=f"{params.classes} classes, mask {list(params.mask)}")

    def opencv_layout(self, layer: Layer, output: np.ndarray, input_size: Size
                      ) -> np.ndarray | None:
        p = layer.params_as(YoloParams)
        return yolo_as_opencv(self.darknet_output(layer, output), p.anchor_boxes, p.classes,
                              p.new_coords, *input_size)


def yolo_as_opencv(output: np.ndarray, anchors: list[tuple[float, float]], classes: int,
                   new_coords: bool, net_w: int, net_h: int) -> np.ndarray:
    """A [yolo] layer's Darknet output (A*(5+C), H, W) as OpenCV's Region layer lays it out
    with thresh=0 and no NMS: rows (y, x, anchor), columns x, y, w, h relative to the
    image, objectness, objectness * class."""
    a = len(anchors)
    _, h, w = output.shape
    v = output.reshape(a, 5 + classes, h, w).transpose(2, 3, 0, 1).astype(np.float64)
    out = np.empty_like(v)
    cols = np.arange(w).reshape(1, w, 1)
    rows = np.arange(h).reshape(h, 1, 1)
    aw = np.array([p[0] for p in anchors]).reshape(1, 1, a)
    ah = np.array([p[1] for p in anchors]).reshape(1, 1, a)
    out[..., 0] = (cols + v[..., 0]) / w
    out[..., 1] = (rows + v[..., 1]) / h
    if new_coords:
        out[..., 2] = v[..., 2] ** 2 * 4 * aw / net_w
        out[..., 3] = v[..., 3] ** 2 * 4 * ah / net_h
    else:
        out[..., 2] = np.exp(v[..., 2]) * aw / net_w
        out[..., 3] = np.exp(v[..., 3]) * ah / net_h
    out[..., 4] = v[..., 4]
    out[..., 5:] = v[..., 4:5] * v[..., 5:]
    return out.reshape(h * w * a, 5 + classes)


