"""[sam] and [scale_channels] as torch: `forward_sam_layer` (src/sam_layer.c),
`forward_scale_channels_layer` (src/scale_channels_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.attention."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.attention import SamParams, ScaleChannelsParams
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.activation import PlainActivate
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class SamModule(DarknetModule):
    """output = input * from-layer output, element by element, then the activation."""

    def __init__(self, activation: str, zeroes: bool):
        super().__init__()
        self.act = PlainActivate(activation, zeroes)

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        return self.act(x.reshape(other.shape) * other)


class ScaleChannelsModule(DarknetModule):
    """output[c, y, x] = from[c, y, x] * input[c] (or * input[y, x] with scale_wh=1),
    then the activation: `forward_scale_channels_layer`."""

    def __init__(self, scale_shape: tuple[int, int, int], activation: str, zeroes: bool):
        super().__init__()
        self.scale_shape = tuple(scale_shape)
        self.act = PlainActivate(activation, zeroes)

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        scale = x.reshape(x.shape[0], *self.scale_shape)
        image = other if other.dim() == 4 else other.reshape(other.shape[0], -1, 1, 1)
        return self.act(image * scale).reshape(other.shape)


@module_for("sam")
def _sam_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(SamParams)
    return SamModule(p.activation, p.zeroes)


@module_for("scale_channels")
def _scale_channels_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(ScaleChannelsParams)
    return ScaleChannelsModule(p.scale_shape, p.activation, p.zeroes)
