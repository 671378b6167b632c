"""[empty] (alias [silence]): the identity. Darknet's `parse_network_cfg_custom`
(src/parser.c) points its `l.output` at the previous layer's output."""

from __future__ import annotations

from torch import Tensor, nn

from darknet_inspector.core.layers.base import BuildContext, Built, DarknetModule, Layer, LayerType
from darknet_inspector.core.layers.registry import register


@register
class Empty(LayerType):
    name = "empty"

    def build(self, ctx: BuildContext) -> Built:
        return Built(ctx.require_input())

    def module(self, layer: Layer) -> nn.Module:
        return EmptyModule()


class EmptyModule(DarknetModule):
    def forward(self, x: Tensor) -> Tensor:
        return x
