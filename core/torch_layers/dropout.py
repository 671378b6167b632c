"""[dropout] as torch: the identity (`forward_dropout_layer`, src/dropout_layer.c). The torch-
free side (options, shapes, weight layout) is core.layers.dropout."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class Identity(DarknetModule):
    keeps_layout = True

    def forward(self, x: Tensor) -> Tensor:
        return x


@module_for("dropout")
def _dropout_module(layer: Layer) -> DarknetModule:
    return Identity()
