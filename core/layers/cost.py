"""[cost]: Darknet's `parse_cost` (src/parser.c) and `forward_cost_layer`
(src/cost_layer.c). Without a truth (inference) the forward pass returns at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerType,
)
from darknet_inspector.core.layers.registry import register

COST_TYPES = ("sse", "masked", "smooth")


def output_never_written(layer: Layer) -> np.ndarray:
    """A layer whose inference forward never writes `l.output`: Darknet's buffer keeps
    the zeros `calloc` gave it."""
    return np.zeros(layer.built_shape, dtype=np.float32)


@dataclass(frozen=True)
class CostParams(LayerParams):
    cost_type: str


@register
class Cost(LayerType):
    name = "cost"
    known_keys = frozenset({"scale", "ratio"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        kind = s.str("type", "sse")
        if kind not in COST_TYPES:
            ctx.warn(f"[cost] type={kind} is not one of {', '.join(COST_TYPES)}; Darknet uses "
                     "sse", s.line_of("type"))
            kind = "sse"
        return Built((inputs,), CostParams(kind), summary=kind)

    def darknet_output(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """The network's result skips [cost] (`get_network_output`), so the module passes
        its input on; Darknet's own `l.output` stays zero."""
        return output_never_written(layer)


