"""[dropout]: the identity at inference (`forward_dropout_layer`, src/dropout_layer.c,
does nothing when `state.train` is 0)."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerType,
)
from darknet_inspector.core.layers.registry import register


@dataclass(frozen=True)
class DropoutParams(LayerParams):
    probability: float


@register
class Dropout(LayerType):
    name = "dropout"
    known_keys = frozenset({"probability", "dropblock", "dropblock_size_rel",
                            "dropblock_size_abs"})

    def build(self, ctx: BuildContext) -> Built:
        probability = ctx.section.float("probability", 0.2)
        return Built(ctx.require_input(), DropoutParams(probability),
                     summary=f"p={probability:g}")


