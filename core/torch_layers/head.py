"""How `detector test` decodes a head's output into candidate boxes: one `HeadDecoder`
per head type, registered by name (core.torch_layers.registry.decoder_for)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer

Size = tuple[int, int]


@dataclass
class Decoded:
    """One head's candidates: boxes (N, 4) as centre x, y, w, h relative to the network
    input; a box is considered only where gate > thresh; probs (N, classes)."""

    boxes: Tensor
    gate: Tensor
    probs: Tensor


class HeadDecoder:
    """Decodes one head type's output as Darknet's `detector test` does."""

    def decode(self, layer: Layer, output: Tensor, input_size: Size) -> Decoded:
        """One sample's head output (activations applied) -> candidate boxes."""
        raise NotImplementedError

    def objectness(self, layer: Layer, output: Tensor) -> Tensor:
        """Objectness per anchor and cell, (A, H, W), of one sample's output: the gate
        `decode` gives each candidate (cells row-major, anchor fastest)."""
        _, h, w = output.shape
        gate = self.decode(layer, output, (w, h)).gate
        return gate.reshape(h, w, -1).permute(2, 0, 1)


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
