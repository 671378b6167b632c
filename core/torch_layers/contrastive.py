"""[contrastive] as torch: `forward_contrastive_layer` (src/softmax_layer.c) at inference. The
torch-free side (options, shapes, weight layout) is core.layers.contrastive."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class ContrastiveModule(DarknetModule):
    """The input, passed on as Darknet's GPU forward does."""

    def forward(self, x: Tensor) -> Tensor:
        return x


@module_for("contrastive")
def _contrastive_module(layer: Layer) -> DarknetModule:
    return ContrastiveModule()
