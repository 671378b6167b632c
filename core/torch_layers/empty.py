"""[empty] as torch: the identity (`parse_network_cfg_custom`, src/parser.c). The torch-free side
(options, shapes, weight layout) is core.layers.empty."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class EmptyModule(DarknetModule):
    def forward(self, x: Tensor) -> Tensor:
        return x


@module_for("empty")
def _empty_module(layer: Layer) -> DarknetModule:
    return EmptyModule()
