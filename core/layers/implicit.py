"""[implicit]: Darknet's `parse_implicit` (src/parser.c), `make_implicit_layer` and
`forward_implicit_layer` (src/representation_layer.c): a learned constant tensor of
`filters` channels, `atoms` rows and one column, the same for every sample; its input is
ignored."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerType,
    TensorSpec,
    positive,
)
from darknet_inspector.core.layers.registry import register


@dataclass(frozen=True)
class ImplicitParams(LayerParams):
    filters: int
    atoms: int


@register
class Implicit(LayerType):
    name = "implicit"
    known_keys = frozenset({"mean", "std"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        filters = positive(s, "filters", s.int("filters", 128))
        atoms = positive(s, "atoms", s.int("atoms", 1))
        shape = (filters, atoms, 1)
        return Built(shape, ImplicitParams(filters, atoms),
                     [TensorSpec("weights", shape)], summary=f"{filters}x{atoms}")


