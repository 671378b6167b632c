"""[shortcut]: Darknet's `parse_shortcut` (src/parser.c), `make_shortcut_layer`
(src/shortcut_layer.c) and `shortcut_multilayer_cpu` (src/blas.c)."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    TensorSpec,
    as_chw,
)
from darknet_inspector.core.layers.convolutional import darknet_activation
from darknet_inspector.core.layers.flops import darknet_shortcut_bflops
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.route import route_layer_indices

WEIGHTS_TYPES = {"none": None, "per_feature": "per_feature", "per_layer": "per_feature",
                 "per_channel": "per_channel"}
NORMALIZATIONS = {"none": None, "relu": "relu", "avg_relu": "relu", "softmax": "softmax"}


def shortcut_weight_count(weights_type: str | None, inputs: int, channels: int) -> int:
    """`make_shortcut_layer`: per_feature stores n+1 weights, per_channel (n+1)*c."""
    if weights_type == "per_feature":
        return inputs
    if weights_type == "per_channel":
        return inputs * channels
    return 0


@dataclass(frozen=True)
class ShortcutParams(LayerParams):
    """[shortcut] as `parse_shortcut` reads it: the `from=` layers (absolute) and their
    sizes, the mixing weights' kind and normalisation (None: none), the activation."""

    sources: tuple[int, ...]
    sizes: tuple[int, ...]
    weights_type: str | None
    normalization: str | None
    activation: str
    channels: int


@register
class Shortcut(LayerType):
    name = "shortcut"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        shape = ctx.require_input()
        sources = route_layer_indices(ctx, "from")
        sizes = []
        for index in sources:
            other = ctx.output_of(index)
            sizes.append(_count(other))
            if other != shape:
                ctx.warn(f"[shortcut] adds layer {index} ({_fmt(other)}) to {_fmt(shape)}: "
                         "Darknet adds them element by element over the smaller size",
                         s.line_of("from"))
        kind = s.str("weights_type", "none")
        if kind not in WEIGHTS_TYPES:
            raise LayerProblem(f"[shortcut] weights_type={kind}: use none, per_feature or "
                               "per_channel", s.line_of("weights_type"))
        norm = s.str("weights_normalization", "none")
        if norm not in NORMALIZATIONS:
            raise LayerProblem(f"[shortcut] weights_normalization={norm}: use none, relu or "
                               "softmax", s.line_of("weights_normalization"))
        weights_type = WEIGHTS_TYPES[kind]
        channels = shape[0]
        count = shortcut_weight_count(weights_type, len(sources) + 1, channels)
        weights = []
        if weights_type == "per_feature":
            weights = [TensorSpec("weights", (len(sources) + 1,))]
        elif weights_type == "per_channel":
            weights = [TensorSpec("weights", (len(sources) + 1, channels))]
        activation = darknet_activation(ctx, "linear")
        params = ShortcutParams(sources=tuple(sources), sizes=tuple(sizes),
                                weights_type=weights_type,
                                normalization=NORMALIZATIONS[norm] if count else None,
                                activation=activation, channels=channels)
        summary = ",".join(str(i) for i in sources) + f" {activation}"
        if weights_type:
            summary += f" w:{weights_type}"
        return Built(shape, params, weights, inputs=(ctx.index - 1, *sources), summary=summary)

    def bflops(self, layer: Layer) -> float:
        p = layer.params_as(ShortcutParams)
        c, h, w = as_chw(layer.output_shape or (0,))
        return darknet_shortcut_bflops(c, h, w, len(p.sources), p.weights_type is not None)


def _count(shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _fmt(shape) -> str:
    return "x".join(str(d) for d in shape)


