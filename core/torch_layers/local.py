"""[local] as torch: `forward_local_layer` (src/local_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.local."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.local import LocalParams
from darknet_inspector.core.torch_layers.activation import PlainActivate
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.connected import filled_parameter
from darknet_inspector.core.torch_layers.held import not_runnable_message, refuse_if_not_runnable
from darknet_inspector.core.torch_layers.registry import module_for


class LocalModule(DarknetModule):
    """biases + at each location l: weights[l] (n x c*size*size) @ that location's
    im2col column, then the activation."""

    def __init__(self, layer: Layer):
        super().__init__()
        p = layer.params_as(LocalParams)
        self.size = p.size
        self.stride = p.stride
        self.pad = int(p.pad)
        self.out_shape = layer.built_shape
        self.biases = filled_parameter(*layer.weights[0].shape, value=0.0)
        self.weights = filled_parameter(*layer.weights[1].shape, value=0.0)
        self.act = PlainActivate(p.activation, p.zeroes)
        self.refusal = None if layer.runnable else not_runnable_message(layer)

    def forward(self, x: Tensor) -> Tensor:
        refuse_if_not_runnable(self.refusal)
        cols = F.unfold(x, self.size, padding=self.pad, stride=self.stride)
        locations, n = self.weights.shape[:2]
        kernels = self.weights.reshape(locations, n, -1)
        y = torch.einsum("lnk,bkl->bnl", kernels, cols)
        y = y.reshape(x.shape[0], *self.out_shape) + self.biases
        return self.act(y)


@module_for("local")
def _local_module(layer: Layer) -> DarknetModule:
    return LocalModule(layer)
