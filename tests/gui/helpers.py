"""Small models for GUI tests, and where each tensor starts in a weights file."""

from __future__ import annotations

from pathlib import Path

from darknet_inspector.core.network import Network
from tests.helpers import net_from_text, write_random_weights

HEADER = 20


def conv_cfg(layers: int, filters: int = 8, size: int = 32, bn: bool = True) -> str:
    """A chain of 3x3 convolutions (batch-normalised by default) on a small RGB input."""
    text = f"[net]\nwidth={size}\nheight={size}\nchannels=3\n"
    for _ in range(layers):
        text += (f"\n[convolutional]\nbatch_normalize={int(bn)}\nfilters={filters}\nsize=3\n"
                 "stride=1\npad=1\nactivation=leaky\n")
    return text


def write_model(folder: Path, text: str, name: str = "model") -> tuple[Path, Path, Network, dict]:
    """Write `name.cfg` and a random `name.weights` for it."""
    cfg = folder / f"{name}.cfg"
    cfg.write_text(text)
    network = net_from_text(text)
    weights = folder / f"{name}.weights"
    tensors = write_random_weights(network, weights)
    return cfg, weights, network, tensors


def tensor_offsets(network: Network) -> dict[tuple[int, str], int]:
    """Byte offset of every tensor: header, then each layer's tensors in file order."""
    offsets, offset = {}, HEADER
    for layer in network.layers:
        for spec in layer.weights:
            offsets[(layer.index, spec.name)] = offset
            offset += spec.nbytes
    return offsets


WINDOW_SIZES = ((1366, 768), (1920, 1080))
"""The screens a table must fill: a small laptop's and a full-HD one."""


def header_gap(table) -> int:
    """Pixels of a table's header right of its last column (negative: the columns scroll)."""
    return table.viewport().width() - table.horizontalHeader().length()
