"""[empty] (alias [silence]): the identity. Darknet's `parse_network_cfg_custom`
(src/parser.c) points its `l.output` at the previous layer's output."""

from __future__ import annotations

from darknet_inspector.core.layers.base import BuildContext, Built, LayerType
from darknet_inspector.core.layers.registry import register


@register
class Empty(LayerType):
    name = "empty"

    def build(self, ctx: BuildContext) -> Built:
        return Built(ctx.require_input())


