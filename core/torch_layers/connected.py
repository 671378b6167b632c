"""[connected] as torch: `forward_connected_layer` (src/connected_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.connected."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.connected import BN_EPSILON, ConnectedParams
from darknet_inspector.core.torch_layers.activation import PlainActivate
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class ConnectedModule(DarknetModule):
    """x @ weights.T, then BN with the rolling statistics (eps 1e-5) and scales, then
    biases, then the activation: `forward_connected_layer` at inference."""

    def __init__(self, inputs: int, outputs: int, batch_normalize: bool,
                 activation: str = "linear", zeroes: bool = False):
        super().__init__()
        self.batch_normalize = batch_normalize
        self.weights = filled_parameter(outputs, inputs, value=0.0)
        self.biases = filled_parameter(outputs, value=0.0)
        if batch_normalize:
            self.scales = filled_parameter(outputs, value=1.0)
            self.rolling_mean = filled_parameter(outputs, value=0.0)
            self.rolling_variance = filled_parameter(outputs, value=0.0)
        self.act = PlainActivate(activation, zeroes)

    def forward(self, x: Tensor) -> Tensor:
        y = x.reshape(x.shape[0], -1) @ self.weights.t()
        if self.batch_normalize:
            y = (y - self.rolling_mean) / torch.sqrt(self.rolling_variance + BN_EPSILON)
            y = y * self.scales
        return self.act(y + self.biases)


def filled_parameter(*shape: int, value: float) -> nn.Parameter:
    """A parameter holding Darknet's `make_*_layer` value until the file overwrites it."""
    return nn.Parameter(torch.full(shape, value), requires_grad=False)


@module_for("connected")
def _connected_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(ConnectedParams)
    return ConnectedModule(p.inputs, p.outputs, p.batch_normalize, p.activation, p.zeroes)
