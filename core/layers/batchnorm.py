"""[batchnorm]: Darknet's `parse_batchnorm` (src/parser.c), `load_batchnorm_weights`
(src/parser.c) and `forward_batchnorm_layer` (src/batchnorm_layer.c) at inference."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerType,
    TensorSpec,
)
from darknet_inspector.core.layers.registry import register


def batchnorm_weight_layout(channels: int) -> list[TensorSpec]:
    """`load_batchnorm_weights` reads biases, scales, rolling_mean, rolling_variance (one
    per channel each), in that order, whatever `dontloadscales` says."""
    return [TensorSpec(name, (channels,))
            for name in ("biases", "scales", "rolling_mean", "rolling_variance")]


@dataclass(frozen=True)
class BatchnormParams(LayerParams):
    channels: int


@register
class Batchnorm(LayerType):
    name = "batchnorm"

    def build(self, ctx: BuildContext) -> Built:
        shape = ctx.require_input()
        c, _, _ = ctx.require_chw()
        return Built(shape, BatchnormParams(c), batchnorm_weight_layout(c), summary=f"{c}")


