"""What every detection head type ([yolo], [Gaussian_yolo], [region], [detection])
answers about itself: that it is a head, the input size its feeding layer must give,
its anchors and how OpenCV's Region layer lays it out. Callers ask
`head_type(layer.type)` (core.layers.registry), never a table; how `detector test`
decodes a head's output is torch code, core.torch_layers.head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from darknet_inspector.core.layers.base import Layer, LayerParams, LayerType

Size = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class HeadParams(LayerParams):
    """What every head parses once: its classes, and the NMS its boxes get
    (`nms_kind`, `beta_nms` as `parse_yolo` reads them; Darknet's defaults elsewhere)."""

    classes: int
    nms_kind: str = "default"
    beta_nms: float = 0.6


class HeadType(LayerType):
    """A detection head: the layer type that owns its head facts."""

    is_head: ClassVar[bool] = True

    def params(self, layer: Layer) -> HeadParams:
        return layer.params_as(HeadParams)

    def required_inputs(self, layer: Layer) -> int:
        """How many values (channels, for a 3-D input) the layer feeding the head must
        give, by the head's own rule (e.g. (classes + 5) * len(mask))."""
        raise NotImplementedError

    def anchor_boxes(self, layer: Layer) -> list[tuple[float, float]]:
        """The (w, h) anchors the head predicts with, in the order of its output."""
        return []

    def filters_per_class(self, layer: Layer) -> int | None:
        """How many more filters its feeding conv needs per extra class: one per anchor
        (outputs = anchors * (classes + entries)); None when the input is not laid out
        per anchor ([detection])."""
        return len(self.anchor_boxes(layer)) or None

    def opencv_layout(self, layer: Layer, output: np.ndarray, input_size: Size
                      ) -> np.ndarray | None:
        """One sample's output as OpenCV's Region layer lays it out (thresh=0, no NMS),
        or None when OpenCV has no such layer."""
        return None


def anchor_pairs(anchors: tuple[float, ...], which: tuple[int, ...] | range
                 ) -> list[tuple[float, float]]:
    """The (w, h) pairs `which` selects from a flat `anchors=` list."""
    return [(anchors[2 * m], anchors[2 * m + 1]) for m in which]
