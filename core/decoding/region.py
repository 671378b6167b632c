"""How `get_region_boxes` (src/region_layer.c, YOLOv2) decodes a [region] head's output,
with a `tree=` hierarchy (`hierarchy_predictions`, src/tree.c) when the layer has one."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from darknet_inspector.core.darknet_tree import DarknetTree, hierarchy_levels
from darknet_inspector.core.decoding.base import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
    decoder_for,
)
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.region import OBJECTNESS_ENTRY, RegionParams

CLASSFIX_OBJECTNESS_FLOOR = 0.5
TREE_PREDICTION_THRESHOLD = 0.5
"""`get_region_boxes` (src/region_layer.c) keeps a tree class whose absolute probability
is above this fixed .5; `detector test`'s `-hier` value (`hier_thresh`) reaches only
`get_region_detections`, which AlexeyAB's and hank-ai's `fill_network_boxes` no longer
call (both call `custom_get_region_detections` -> `get_region_boxes`)."""


def logistic(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in the array's precision (`logistic_activate`, src/activations.h)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def decode_region(params: RegionParams, output: np.ndarray, input_size: Size) -> Decoded:
    """`get_region_boxes` / `get_region_box` (src/region_layer.c, YOLOv2): x, y arrive raw
    and go through the logistic here, w, h = exp(t)*anchor/grid (anchors in grid cells);
    objectness (entry 4, logistic) and classes (from entry 5, softmax) come from the layer;
    every box is a candidate (`custom_get_region_detections` sets objectness 1),
    prob = objectness * class (`classfix=-1`: objectness below .5 counts as 0)."""
    classes = params.classes
    _, h, w = output.shape
    entries, col, row = cell_entries(output, params.num)
    anchor = anchor_rows(params.anchor_boxes, h * w)
    grid = np.asarray((w, h), dtype=output.dtype)
    xy = logistic(entries[:, 0:2])
    centres = np.stack([(col + xy[:, 0]) / w, (row + xy[:, 1]) / h], axis=1)
    boxes = np.concatenate([centres, np.exp(entries[:, 2:4]) * anchor / grid], axis=1)
    objectness = decoded_objectness(entries[:, OBJECTNESS_ENTRY], params.classfix)
    if params.hierarchy is not None:
        return Decoded(boxes, objectness,
                       tree_class_probabilities(entries[:, 5:5 + classes], params.hierarchy))
    gate = np.full((entries.shape[0],), np.inf, dtype=output.dtype)
    probs = objectness[:, None] * entries[:, 5:5 + classes]
    return Decoded(boxes, gate, probs)


def decoded_objectness(objectness: np.ndarray, classfix: int) -> np.ndarray:
    """The objectness `get_region_boxes` (src/region_layer.c, AlexeyAB's and hank-ai's)
    decodes with: `if (l.classfix == -1 && scale < .5) scale = 0;` -- with `classfix=-1`
    a box below .5 gets 0 (no class survives: prob = 0 * class, or the tree's gate
    `scale > thresh` fails); other classfix values change only training. The layer's own
    output (what `dump` shows) keeps the logistic value."""
    if classfix != -1:
        return objectness
    return np.where(objectness < CLASSFIX_OBJECTNESS_FLOOR, 0, objectness).astype(
        objectness.dtype, copy=False)


@lru_cache(maxsize=4)
def _hierarchy_steps(tree: DarknetTree) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(classes, dtype=np.int64), np.asarray(parents, dtype=np.int64))
            for classes, parents in hierarchy_levels(tree.parents)]


def hierarchy_predictions(conditional: np.ndarray, tree: DarknetTree) -> np.ndarray:
    """`hierarchy_predictions(..., only_leaves=0)` (src/tree.c): each class's probability
    times its parent's, in Darknet's order (core.darknet_tree.hierarchy_levels), so that
    (N, classes) conditional probabilities become absolute ones, bit for bit."""
    absolute = conditional.copy()
    for classes, parents in _hierarchy_steps(tree):
        absolute[:, classes] = conditional[:, classes] * absolute[:, parents]
    return absolute


def tree_class_probabilities(conditional: np.ndarray, tree: DarknetTree) -> np.ndarray:
    """`get_region_boxes` with a `softmax_tree` and no map (what `detector test` runs):
    after `hierarchy_predictions`, walking classes from the last index down, the first
    whose absolute probability is above .5 keeps it and every other class gets 0 -- one
    class per box (the deepest-listed confident one), its probability not multiplied by
    the objectness, which gates the box instead (`probs = scale > thresh ? prob : 0`)."""
    absolute = hierarchy_predictions(conditional, tree)
    confident = absolute > TREE_PREDICTION_THRESHOLD
    last = confident.shape[1] - 1 - np.argmax(confident[:, ::-1], axis=1)
    rows = np.flatnonzero(confident.any(axis=1))
    probs = np.zeros_like(absolute)
    probs[rows, last[rows]] = absolute[rows, last[rows]]
    return probs


@decoder_for("region")
class RegionDecoder(HeadDecoder):
    def objectness(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """Entry `coords` of each anchor (logistic already applied by the layer)."""
        p = layer.params_as(RegionParams)
        _, h, w = output.shape
        return output.reshape(p.num, -1, h, w)[:, p.coords]

    def decode(self, layer: Layer, output: np.ndarray, input_size: Size) -> Decoded:
        return decode_region(layer.params_as(RegionParams), output, input_size)
