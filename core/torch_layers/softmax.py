"""[softmax] as torch: `forward_softmax_layer` (src/softmax_layer.c), `softmax_cpu`
(src/blas.c). The torch-free side (options, shapes, weight layout) is core.layers.softmax."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.softmax import SoftmaxParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class SoftmaxModule(DarknetModule):
    """`softmax_cpu`: the flattened input in `groups` consecutive chunks, each softmaxed
    as exp(x/t - max/t) / sum."""

    def __init__(self, groups: int, temperature: float):
        super().__init__()
        self.groups = groups
        self.temperature = temperature

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        chunks = x.reshape(b, self.groups, -1) / self.temperature
        return torch.softmax(chunks, dim=2).reshape(b, -1)


@module_for("softmax")
def _softmax_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(SoftmaxParams)
    return SoftmaxModule(p.groups, p.temperature)
