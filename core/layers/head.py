"""What every detection head type ([yolo], [Gaussian_yolo], [region], [detection])
answers about itself: that it is a head, the input size its feeding layer must give,
its anchors, how `detector test` decodes its output and how OpenCV's Region layer lays
it out. Callers ask `head_type(layer.type)` (core.layers.registry), never a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer, LayerParams, LayerType

Size = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class HeadParams(LayerParams):
    """What every head parses once: its classes, and the NMS its boxes get
    (`nms_kind`, `beta_nms` as `parse_yolo` reads them; Darknet's defaults elsewhere)."""

    classes: int
    nms_kind: str = "default"
    beta_nms: float = 0.6


@dataclass
class Decoded:
    """One head's candidates: boxes (N, 4) as centre x, y, w, h relative to the network
    input; a box is considered only where gate > thresh; probs (N, classes)."""

    boxes: Tensor
    gate: Tensor
    probs: Tensor


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

    @property
    def can_decode(self) -> bool:
        """Whether the detection preview decodes this head (`decode` is implemented)."""
        return type(self).decode is not HeadType.decode

    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        """One sample's head output (activations applied) -> candidate boxes, as
        Darknet's `detector test` gets them."""
        raise NotImplementedError(f"[{self.name}] heads are not decoded")

    def objectness(self, layer: Layer, output: Tensor) -> Tensor:
        """Objectness per anchor and cell, (A, H, W), of one sample's output: the gate
        `decode` gives each candidate (cells row-major, anchor fastest)."""
        _, h, w = output.shape
        gate = self.decode(layer, output, (w, h)).gate
        return gate.reshape(h, w, -1).permute(2, 0, 1)

    def opencv_layout(self, layer: Layer, output: np.ndarray, input_size: Size
                      ) -> np.ndarray | None:
        """One sample's output as OpenCV's Region layer lays it out (thresh=0, no NMS),
        or None when OpenCV has no such layer."""
        return None


def cell_entries(output: Tensor, anchors: int) -> tuple[Tensor, Tensor, Tensor]:
    """(A*E, H, W) -> entries (H*W*A, E) in Darknet's detection order (cell row-major,
    then anchor), plus each row's column and row index."""
    channels, h, w = output.shape
    entries = output.reshape(anchors, channels // anchors, h, w).permute(2, 3, 0, 1)
    entries = entries.reshape(h * w * anchors, -1)
    cell = torch.arange(h * w, device=output.device).repeat_interleave(anchors)
    return entries, (cell % w).to(output.dtype), (cell // w).to(output.dtype)


def anchor_rows(anchors: list[tuple[float, float]], cells: int, device: torch.device
                ) -> Tensor:
    """(cells*len(anchors), 2) anchor w, h for each entry row (anchor cycles fastest)."""
    pairs = torch.tensor(anchors, dtype=torch.float32, device=device).reshape(-1, 2)
    return pairs.repeat(cells, 1)


def anchor_pairs(anchors: tuple[float, ...], which: tuple[int, ...] | range
                 ) -> list[tuple[float, float]]:
    """The (w, h) pairs `which` selects from a flat `anchors=` list."""
    return [(anchors[2 * m], anchors[2 * m + 1]) for m in which]
