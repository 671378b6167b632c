"""[softmax] (alias [soft]): Darknet's `parse_softmax` (src/parser.c),
`forward_softmax_layer` (src/softmax_layer.c) and `softmax_cpu` (src/blas.c); with
`tree=` (the darknet9000 classifier) its `softmax_tree`, run with the tree file the user
gives (core.layers.tree_option)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
    positive,
)
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.tree_option import given_tree_file


@dataclass(frozen=True)
class SoftmaxParams(LayerParams):
    """[softmax] as `parse_softmax` reads it (`tree` a file name, never opened).
    `hierarchy`: the tree file the user gave for `tree=`; with it the layer runs
    `softmax_tree` over its inputs (groups= unused), with its temperature."""

    groups: int
    temperature: float
    tree: str | None
    hierarchy: DarknetTree | None = field(default=None, repr=False, compare=False)


@register
class Softmax(LayerType):
    name = "softmax"
    known_keys = frozenset({"noloss"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        groups = positive(s, "groups", s.int("groups", 1))
        if inputs % groups:
            raise LayerProblem(f"[{s.name}] groups={groups} does not divide its {inputs} "
                               "inputs (Darknet asserts inputs % groups == 0)",
                               s.line_of("groups"))
        temperature = s.float("temperature", 1.0)
        if temperature == 0:
            raise LayerProblem(f"[{s.name}] temperature=0 divides by zero",
                               s.line_of("temperature"))
        tree = s.str("tree")
        hierarchy, refusal = None, None
        if tree:
            hierarchy, refusal = given_tree_file(ctx, tree, inputs, f"{inputs} inputs")
        if s.float("spatial", 0.0) and not tree:  # with a tree, every build runs the tree
            ctx.warn(f"[{s.name}] spatial=1 is used only by Darknet's GPU build (a softmax "
                     "over channels at each pixel); its CPU forward, which this tool follows, "
                     f"softmaxes {inputs // groups} values at a time", s.line_of("spatial"))
        params = SoftmaxParams(groups=groups, temperature=temperature, tree=tree,
                               hierarchy=hierarchy)
        text = "tree" if tree else (f"groups {groups}" if groups > 1 else "")
        return Built((inputs,), params, runnable=refusal is None, refusal=refusal,
                     summary=text)


