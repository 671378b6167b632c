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


def tree_model_files(folder: Path, name: str, cfg_text: str, tree_text: str, seed: int
                     ) -> tuple[Path, Path, Path]:
    """A cfg with a `tree=` layer, random weights for it and a tree file, in `folder`:
    (cfg, weights, tree)."""
    cfg, tree, weights = folder / f"{name}.cfg", folder / "mine.tree", folder / f"{name}.weights"
    cfg.write_text(cfg_text)
    tree.write_text(tree_text)
    write_random_weights(net_from_text(cfg_text), weights, seed=seed)
    return cfg, weights, tree
