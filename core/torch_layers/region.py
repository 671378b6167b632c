"""The torch modules of core.layers.region (its boxes: core.decoding.region)."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.region import FIRST_CLASS_ENTRY, OBJECTNESS_ENTRY, RegionParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for
from darknet_inspector.core.torch_layers.softmax import group_of_each_class, softmax_tree


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
