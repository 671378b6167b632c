"""[cost] as torch: `forward_cost_layer` (src/cost_layer.c) without a truth. The torch-free side
(options, shapes, weight layout) is core.layers.cost."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class PassThrough(DarknetModule):
    """The input, flattened to this layer's flat output shape."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


@module_for("cost")
def _cost_module(layer: Layer) -> DarknetModule:
    return PassThrough()
