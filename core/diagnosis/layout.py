"""A network's weights file as float counts: per layer how many floats it stores and
where its batch-norm statistics sit. Everything the diagnosis computes works on these
numbers (cumulative sums), never on the tensors themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import Layer, TensorSpec

BN_TRIPLE = ("scales", "rolling_mean", "rolling_variance")


@dataclass(frozen=True)
class LayerLayout:
    """One layer's share of the weights file, in floats."""

    index: int
    floats: int
    bn: int = 0  # channels of its batch-norm triple (0: none stored)
    bn_at: int = 0  # floats from the layer's start to its `scales`


def bn_position(specs: Sequence[TensorSpec]) -> tuple[int, int]:
    """(channels, float offset of `scales`) of the first scales/rolling_mean/
    rolling_variance run in a layer's tensors, (0, 0) when it stores none. The order is
    Darknet's: conv biases then the triple (`load_convolutional_weights`), connected
    biases, weights then the triple (`load_connected_weights`), [batchnorm] the triple
    alone (`load_batchnorm_weights`, src/parser.c)."""
    at = 0
    for i, spec in enumerate(specs):
        names = tuple(s.name.rpartition(".")[2] for s in specs[i:i + 3])
        if names == BN_TRIPLE:
            return spec.count, at
        at += spec.count
    return 0, 0


def layer_layout(layer: Layer) -> LayerLayout:
    bn, bn_at = bn_position(layer.weights)
    return LayerLayout(layer.index, layer.param_count, bn, bn_at)


def network_layout(layers: Iterable[Layer]) -> list[LayerLayout]:
    return [layer_layout(layer) for layer in layers]


def starts(layout: Sequence[LayerLayout]) -> np.ndarray:
    """Float offset of each layer's first float from the end of the header; one more
    entry at the end: the total."""
    counts = np.fromiter((entry.floats for entry in layout), np.int64, len(layout))
    return np.concatenate(([0], np.cumsum(counts)))


def total_floats(layout: Sequence[LayerLayout]) -> int:
    return sum(entry.floats for entry in layout)
