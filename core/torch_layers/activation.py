"""[activation] and the plain `activate_array` (src/activations.c) as torch modules. The torch-
free side (options, shapes, weight layout) is core.layers.activation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from darknet_inspector.core.layers.activation import ActivationParams
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.activations import ACTIVATIONS
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class PlainActivate(nn.Module):
    """An activation applied the way `activate_array` applies it (zeros when it cannot)."""

    def __init__(self, name: str, zeroes: bool = False):
        super().__init__()
        self.name = name
        self.zeroes = zeroes
        self.fn = ACTIVATIONS[name]

    def forward(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x) if self.zeroes else self.fn(x)

    def extra_repr(self) -> str:
        return f"{self.name} (Darknet gives 0)" if self.zeroes else self.name


class ActivationModule(DarknetModule):
    def __init__(self, name: str, zeroes: bool):
        super().__init__()
        self.act = PlainActivate(name, zeroes)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x)


@module_for("activation")
def _activation_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(ActivationParams)
    return ActivationModule(p.activation, p.zeroes)
