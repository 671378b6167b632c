"""The torch modules of core.layers.region."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from darknet_inspector.core.darknet_tree import DarknetTree, hierarchy_levels
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.region import FIRST_CLASS_ENTRY, OBJECTNESS_ENTRY, RegionParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.head import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
)
from darknet_inspector.core.torch_layers.registry import decoder_for, module_for
from darknet_inspector.core.torch_layers.softmax import group_of_each_class, softmax_tree


def decode_region(params: RegionParams, output: Tensor, input_size: Size) -> Decoded:
    """`get_region_boxes` / `get_region_box` (src/region_layer.c, YOLOv2): x, y arrive raw
    and go through the logistic here, w, h = exp(t)*anchor/grid (anchors in grid cells);
    objectness (entry 4, logistic) and classes (from entry 5, softmax) come from the layer;
    every box is a candidate (`custom_get_region_detections` sets objectness 1),
    prob = objectness * class (`classfix=-1`: objectness below .5 counts as 0)."""
    classes = params.classes
    _, h, w = output.shape
    entries, col, row = cell_entries(output, params.num)
    anchor = anchor_rows(params.anchor_boxes, h * w, output.device)
    grid = torch.tensor((w, h), dtype=output.dtype, device=output.device)
    xy = torch.sigmoid(entries[:, 0:2])
    boxes = torch.stack([(col + xy[:, 0]) / w, (row + xy[:, 1]) / h], dim=1)
    boxes = torch.cat([boxes, torch.exp(entries[:, 2:4]) * anchor / grid], dim=1)
    objectness = decoded_objectness(entries[:, OBJECTNESS_ENTRY], params.classfix)
    if params.hierarchy is not None:
        return Decoded(boxes, objectness,
                       tree_class_probabilities(entries[:, 5:5 + classes], params.hierarchy))
    gate = torch.full((entries.shape[0],), float("inf"), device=output.device)
    probs = objectness[:, None] * entries[:, 5:5 + classes]
    return Decoded(boxes, gate, probs)


CLASSFIX_OBJECTNESS_FLOOR = 0.5


def decoded_objectness(objectness: Tensor, classfix: int) -> Tensor:
    """The objectness `get_region_boxes` (src/region_layer.c, AlexeyAB's and hank-ai's)
    decodes with: `if (l.classfix == -1 && scale < .5) scale = 0;` -- with `classfix=-1`
    a box below .5 gets 0 (no class survives: prob = 0 * class, or the tree's gate
    `scale > thresh` fails); other classfix values change only training. The layer's own
    output (what `dump` shows) keeps the logistic value."""
    if classfix != -1:
        return objectness
    return torch.where(objectness < CLASSFIX_OBJECTNESS_FLOOR,
                       torch.zeros_like(objectness), objectness)


TREE_PREDICTION_THRESHOLD = 0.5
"""`get_region_boxes` (src/region_layer.c) keeps a tree class whose absolute probability
is above this fixed .5; `detector test`'s `-hier` value (`hier_thresh`) reaches only
`get_region_detections`, which AlexeyAB's and hank-ai's `fill_network_boxes` no longer
call (both call `custom_get_region_detections` -> `get_region_boxes`)."""


@lru_cache(maxsize=4)
def _hierarchy_steps(tree: DarknetTree) -> list[tuple[Tensor, Tensor]]:
    return [(torch.tensor(classes), torch.tensor(parents))
            for classes, parents in hierarchy_levels(tree.parents)]


def hierarchy_predictions(conditional: Tensor, tree: DarknetTree) -> Tensor:
    """`hierarchy_predictions(..., only_leaves=0)` (src/tree.c): each class's probability
    times its parent's, in Darknet's order (core.darknet_tree.hierarchy_levels), so that
    (N, classes) conditional probabilities become absolute ones, bit for bit."""
    absolute = conditional.clone()
    for classes, parents in _hierarchy_steps(tree):
        classes, parents = classes.to(absolute.device), parents.to(absolute.device)
        absolute[:, classes] = conditional[:, classes] * absolute[:, parents]
    return absolute


def tree_class_probabilities(conditional: Tensor, tree: DarknetTree) -> Tensor:
    """`get_region_boxes` with a `softmax_tree` and no map (what `detector test` runs):
    after `hierarchy_predictions`, walking classes from the last index down, the first
    whose absolute probability is above .5 keeps it and every other class gets 0 -- one
    class per box (the deepest-listed confident one), its probability not multiplied by
    the objectness, which gates the box instead (`probs = scale > thresh ? prob : 0`)."""
    absolute = hierarchy_predictions(conditional, tree)
    confident = absolute > TREE_PREDICTION_THRESHOLD
    last = confident.shape[1] - 1 - confident.flip(1).to(torch.uint8).argmax(dim=1)
    rows = torch.nonzero(confident.any(dim=1)).flatten()
    probs = torch.zeros_like(absolute)
    probs[rows, last[rows]] = absolute[rows, last[rows]]
    return probs


class RegionModule(DarknetModule):
    """`forward_region_layer` at inference, kept channel-major ([n][E][H][W]): logistic on
    objectness (entry 4), softmax over the classes (from entry 5) when `softmax=1`, or
    the tree's group-wise softmax when a tree is given (`softmax_tree` wins over
    `softmax`, as in Darknet); x, y, w, h raw."""

    def __init__(self, num: int, entries: int, classes: int, softmax: bool,
                 tree: DarknetTree | None = None):
        super().__init__()
        self.num = num
        self.entries = entries
        self.classes = classes
        self.softmax = softmax
        self.groups = len(tree.group_sizes) if tree is not None else 0
        self.group_of: Tensor | None
        self.register_buffer("group_of", group_of_each_class(tree) if tree is not None
                             else None, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        v = x.view(b, self.num, self.entries, h, w)
        head = v[:, :, :OBJECTNESS_ENTRY]
        objectness = torch.sigmoid(v[:, :, OBJECTNESS_ENTRY:FIRST_CLASS_ENTRY])
        classes = v[:, :, FIRST_CLASS_ENTRY:FIRST_CLASS_ENTRY + self.classes]
        if self.group_of is not None:
            per_box = classes.permute(0, 1, 3, 4, 2).reshape(-1, self.classes)
            per_box = softmax_tree(per_box, self.group_of, self.groups)
            classes = per_box.reshape(b, self.num, h, w, self.classes).permute(0, 1, 4, 2, 3)
        elif self.softmax:
            classes = torch.softmax(classes, dim=2)
        rest = v[:, :, FIRST_CLASS_ENTRY + self.classes:]
        return torch.cat([head, objectness, classes, rest], dim=2).view(b, c, h, w)


@module_for("region")
def _region_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(RegionParams)
    return RegionModule(p.num, p.entries, p.classes, p.softmax, p.hierarchy)


@decoder_for("region")
class RegionDecoder(HeadDecoder):
    def objectness(self, layer: Layer, output: Tensor) -> Tensor:
        """Entry `coords` of each anchor (logistic already applied by the layer)."""
        p = layer.params_as(RegionParams)
        _, h, w = output.shape
        return output.reshape(p.num, -1, h, w)[:, p.coords]

    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        return decode_region(layer.params_as(RegionParams), output, input_size)
