"""[contrastive]: Darknet's `parse_contrastive` (src/parser.c), `make_contrastive_layer`
and `forward_contrastive_layer` (src/softmax_layer.c). A training-only loss: at inference
the GPU build copies its input through and the CPU build returns without writing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    as_chw,
)
from darknet_inspector.core.layers.cost import output_never_written
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.yolo import YoloParams

CONTRASTIVE_TRAINING_KEYS = frozenset({
    "classes", "temperature", "cls_normalizer", "max_delta", "contrastive_neg_max",
})


@dataclass(frozen=True)
class ContrastiveParams(LayerParams):
    yolo_layer: int
    embedding_size: int


def yolo_anchor_count(yolo: Layer) -> int:
    """Anchors of the [yolo] layer a [contrastive] reads (1 when it failed to build)."""
    return len(yolo.params.mask) if isinstance(yolo.params, YoloParams) else 1


def contrastive_yolo_layer(ctx: BuildContext) -> Layer:
    """`yolo_layer=` (relative when negative) must name an earlier [yolo]: Darknet
    dereferences it unchecked (0 or absent crashes) and exits when it is not [yolo]."""
    s = ctx.section
    value = s.int("yolo_layer", 0)
    index = ctx.index + value if value < 0 else value
    if value == 0 or not 0 <= index < ctx.index or ctx.layers[index].type != "yolo":
        raise LayerProblem(f"[contrastive] yolo_layer={value} must name an earlier [yolo] "
                           "layer (e.g. yolo_layer=-2); Darknet crashes or exits otherwise",
                           s.line_of("yolo_layer"))
    return ctx.layers[index]


def yolo_embedding_size(ctx: BuildContext, yolo: Layer) -> int:
    """`parse_yolo`: embedding_layer's filters / the yolo's anchors (0 without one)."""
    option = yolo.section.options.get("embedding_layer")
    if option is None:
        return 0
    try:
        value = int(option.value)
    except ValueError:
        return 0
    index = yolo.index + value if value < 0 else value
    if not 0 <= index < len(ctx.layers) or not ctx.layers[index].known:
        return 0
    return ctx.layers[index].built_shape[0] // max(1, yolo_anchor_count(yolo))


@register
class Contrastive(LayerType):
    name = "contrastive"
    known_keys = CONTRASTIVE_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        shape = ctx.require_input()
        yolo = contrastive_yolo_layer(ctx)
        _, h, w = as_chw(shape)
        anchors = yolo_anchor_count(yolo)
        embedding = math.prod(shape) // (anchors * h * w)
        expected = yolo_embedding_size(ctx, yolo)
        if embedding != expected:
            raise LayerProblem(
                f"[contrastive] its input gives {embedding} embedding values per anchor but "
                f"[yolo] layer {yolo.index} expects {expected} (its embedding_layer's "
                "filters / anchors); both must read the same [convolutional] layer",
                s.line_of("yolo_layer"))
        return Built(shape, ContrastiveParams(yolo_layer=yolo.index, embedding_size=embedding),
                     summary=f"yolo {yolo.index}, emb {embedding}")

    def darknet_output(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """The CPU forward (which `dump` follows) never writes `l.output`."""
        return output_never_written(layer)


