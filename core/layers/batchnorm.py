"""[batchnorm]: Darknet's `parse_batchnorm` (src/parser.c), `load_batchnorm_weights`
(src/parser.c) and `forward_batchnorm_layer` (src/batchnorm_layer.c) at inference."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    DarknetModule,
    Layer,
    LayerParams,
    LayerType,
    TensorSpec,
)
from darknet_inspector.core.layers.connected import BN_EPSILON, filled_parameter
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

    def module(self, layer: Layer) -> nn.Module:
        return BatchnormModule(layer.params_as(BatchnormParams).channels)


class BatchnormModule(DarknetModule):
    """(x - rolling_mean) / sqrt(rolling_variance + 1e-5) * scales + biases, per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.biases = filled_parameter(channels, value=0.0)
        self.scales = filled_parameter(channels, value=1.0)
        self.rolling_mean = filled_parameter(channels, value=0.0)
        self.rolling_variance = filled_parameter(channels, value=0.0)

    def forward(self, x: Tensor) -> Tensor:
        image = x.reshape(x.shape[0], self.channels, -1)
        view = (1, -1, 1)
        y = (image - self.rolling_mean.view(view)) / torch.sqrt(
            self.rolling_variance.view(view) + BN_EPSILON)
        y = y * self.scales.view(view) + self.biases.view(view)
        return y.reshape(x.shape)
