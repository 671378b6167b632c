"""[implicit] as torch: `forward_implicit_layer` (src/representation_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.implicit."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.connected import filled_parameter
from darknet_inspector.core.torch_layers.registry import module_for


class ImplicitModule(DarknetModule):
    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.weights = filled_parameter(*shape, value=0.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.weights.unsqueeze(0).expand(x.shape[0], *self.weights.shape)


@module_for("implicit")
def _implicit_module(layer: Layer) -> DarknetModule:
    return ImplicitModule(layer.built_shape)
