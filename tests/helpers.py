"""Small builders shared by tests: cfg text -> network, random weights files."""

from __future__ import annotations

from pathlib import Path

from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.network import Network, build_network
from darknet_inspector.core.weights import WeightsHeader, random_weights, write_weights


def net_from_text(text: str, width: int | None = None, height: int | None = None,
                  tree: DarknetTree | None = None) -> Network:
    return build_network(parse_cfg(text, "test.cfg"), width, height, tree)


def write_random_weights(network: Network, path: Path, seed: int = 0,
                         header: WeightsHeader | None = None) -> dict:
    tensors = random_weights(network, seed)
    write_weights(path, network, tensors, header)
    return tensors
