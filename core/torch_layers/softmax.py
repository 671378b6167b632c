"""[softmax] as torch: `forward_softmax_layer` (src/softmax_layer.c), `softmax_cpu`
(src/blas.c), and `softmax_tree` (the hierarchical softmax of a `tree=` file, also run by
[region]). The torch-free side (options, shapes, weight layout) is core.layers.softmax."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.softmax import SoftmaxParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class SoftmaxModule(DarknetModule):
    """`softmax_cpu`: the flattened input in `groups` consecutive chunks, each softmaxed
    as exp(x/t - max/t) / sum."""

    def __init__(self, groups: int, temperature: float):
        super().__init__()
        self.groups = groups
        self.temperature = temperature

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        chunks = x.reshape(b, self.groups, -1) / self.temperature
        return torch.softmax(chunks, dim=2).reshape(b, -1)


def softmax_tree(values: Tensor, group_of: Tensor, groups: int,
                 temperature: float = 1.0) -> Tensor:
    """`softmax_tree` (src/softmax_layer.c): a softmax over each group of consecutive
    values on its own (`softmax` in src/blas.c: exp(x/t - largest/t) / sum, `largest` the
    group's largest raw value). `values` is (M, C), one row per softmaxed vector;
    `group_of` (C,) the group of each value (group_of_each_class). [region] calls it per
    box with t = 1 (`forward_region_layer`), [softmax] on each sample's whole input with
    the layer's `temperature` (`forward_softmax_layer`)."""
    index = group_of.to(values.device).expand_as(values)
    shape = (values.shape[0], groups)
    largest = values.new_full(shape, float("-inf")).scatter_reduce(
        1, index, values, "amax", include_self=True).gather(1, index)
    if temperature != 1:
        e = torch.exp(values / temperature - largest / temperature)
    else:
        e = torch.exp(values - largest)
    total = values.new_zeros(shape).scatter_add(1, index, e)
    return e / total.gather(1, index)


def group_of_each_class(tree: DarknetTree) -> Tensor:
    """(C,) the softmax group of each class (`read_tree`'s groups, empty ones included)."""
    group = torch.empty(tree.n, dtype=torch.int64)
    for g, (offset, size) in enumerate(zip(tree.group_offsets, tree.group_sizes)):
        group[offset:offset + size] = g
    return group


class SoftmaxTreeModule(DarknetModule):
    """`forward_softmax_layer` with `l.softmax_tree` (the darknet9000 classifier): each
    sample's flattened input softmaxed group by group of the tree file, with the layer's
    temperature; `groups=` is not used. This is the layer's output, what `dump` shows.
    Darknet's `classifier predict` then runs `hierarchy_predictions(..., only_leaves=0)`
    on it in place (each class times its parent's absolute probability, src/tree.c) and
    prints the top classes with their parents; the `valid*` commands keep only leaves
    (only_leaves=1). Those are the classifier command's post-processing, not the layer."""

    def __init__(self, tree: DarknetTree, temperature: float):
        super().__init__()
        self.groups = len(tree.group_sizes)
        self.temperature = temperature
        self.group_of: Tensor
        self.register_buffer("group_of", group_of_each_class(tree), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        return softmax_tree(flat, self.group_of, self.groups, self.temperature)


@module_for("softmax")
def _softmax_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(SoftmaxParams)
    if p.hierarchy is not None:
        return SoftmaxTreeModule(p.hierarchy, p.temperature)
    return SoftmaxModule(p.groups, p.temperature)
