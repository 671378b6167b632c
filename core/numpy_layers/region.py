"""[region] (YOLOv2) as numpy: `forward_region_layer` (src/region_layer.c) at inference
on an (H, W, C) array, as core.torch_layers.region.RegionModule without a tree:
logistic on objectness (entry 4), softmax over the classes (from entry 5) when
`softmax=1`, every other entry raw, kept channel-major ([n][E] per cell)."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.region import (
    FIRST_CLASS_ENTRY,
    OBJECTNESS_ENTRY,
    RegionParams,
)
from darknet_inspector.core.numpy_layers.activations import logistic_
from darknet_inspector.core.numpy_layers.registry import NotCovered, Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def region_step(num: int, entries: int, classes: int, softmax: bool) -> Step:
    first, last = FIRST_CLASS_ENTRY, FIRST_CLASS_ENTRY + classes

    def region(x: np.ndarray) -> np.ndarray:
        h, w, _ = x.shape
        out = x.copy()
        v = out.reshape(h, w, num, entries)
        objectness = v[..., OBJECTNESS_ENTRY].copy()
        logistic_(objectness)
        v[..., OBJECTNESS_ENTRY] = objectness
        if softmax:
            scores = v[..., first:last]
            e = np.exp(scores - scores.max(axis=-1, keepdims=True))
            v[..., first:last] = e / e.sum(axis=-1, keepdims=True)
        return out

    return region


def _refuse_uncovered(layer: Layer) -> None:
    p = layer.params_as(RegionParams)
    if p.tree is not None or p.hierarchy is not None:
        raise NotCovered(f"tree={p.tree}")


@step_for("region", check=_refuse_uncovered)
def _region_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(RegionParams)
    return region_step(p.num, p.entries, p.classes, p.softmax)
