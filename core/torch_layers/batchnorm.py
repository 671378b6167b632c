"""[batchnorm] as torch: `forward_batchnorm_layer` (src/batchnorm_layer.c) at inference. The
torch-free side (options, shapes, weight layout) is core.layers.batchnorm."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.batchnorm import BatchnormParams
from darknet_inspector.core.layers.connected import BN_EPSILON
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.connected import filled_parameter
from darknet_inspector.core.torch_layers.registry import module_for


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


@module_for("batchnorm")
def _batchnorm_module(layer: Layer) -> DarknetModule:
    return BatchnormModule(layer.params_as(BatchnormParams).channels)
