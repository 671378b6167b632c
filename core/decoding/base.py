"""The decoder interface, its registry and the cell/anchor layout the YOLO-style heads
share (`entry_index`, src/yolo_layer.c and src/region_layer.c)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.registry import layer_type

Size = tuple[int, int]


@dataclass
class Decoded:
    """One head's candidates: boxes (N, 4) as centre x, y, w, h relative to the network
    input; a box is considered only where gate > thresh; probs (N, classes)."""

    boxes: np.ndarray
    gate: np.ndarray
    probs: np.ndarray


class HeadDecoder:
    """Decodes one head type's output as Darknet's `detector test` does."""

    def decode(self, layer: Layer, output: np.ndarray, input_size: Size) -> Decoded:
        """One sample's head output (C, H, W), activations applied -> candidate boxes."""
        raise NotImplementedError

    def objectness(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """Objectness per anchor and cell, (A, H, W), of one sample's output: the gate
        `decode` gives each candidate (cells row-major, anchor fastest)."""
        _, h, w = output.shape
        gate = self.decode(layer, output, (w, h)).gate
        return gate.reshape(h, w, -1).transpose(2, 0, 1)


D = TypeVar("D", bound=type[HeadDecoder])
_DECODERS: dict[str, HeadDecoder] = {}


def decoder_for(name: str) -> Callable[[D], D]:
    """Class decorator: registers one instance as the decoder of heads of type `name`."""
    def register(cls: D) -> D:
        if layer_type(name) is None:
            raise ValueError(f"[{name}] is not a registered layer type (core.layers)")
        if name in _DECODERS:
            raise ValueError(f"[{name}] registered twice")
        _DECODERS[name] = cls()
        return cls

    return register


def head_decoder(name: str) -> HeadDecoder | None:
    """How `detector test` decodes heads of type `name`; None when not decoded."""
    return _DECODERS.get(name)


def decoded_types() -> list[str]:
    return sorted(_DECODERS)


def cell_entries(output: np.ndarray, anchors: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A*E, H, W) -> entries (H*W*A, E) in Darknet's detection order (cell row-major,
    then anchor), plus each row's column and row index."""
    channels, h, w = output.shape
    entries = output.reshape(anchors, channels // anchors, h, w).transpose(2, 3, 0, 1)
    entries = entries.reshape(h * w * anchors, -1)
    cell = np.repeat(np.arange(h * w), anchors)
    return entries, (cell % w).astype(output.dtype), (cell // w).astype(output.dtype)


def anchor_rows(anchors: list[tuple[float, float]], cells: int) -> np.ndarray:
    """(cells*len(anchors), 2) anchor w, h for each entry row (anchor cycles fastest)."""
    pairs = np.asarray(anchors, dtype=np.float32).reshape(-1, 2)
    return np.tile(pairs, (cells, 1))
