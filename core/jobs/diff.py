"""Compare two weights files of one cfg (`diff` on the command line, the Weights diff tab)."""

from __future__ import annotations

import os
from collections.abc import Generator

from darknet_inspector.core.diff import WeightsDiff, diff_weights
from darknet_inspector.core.network import Network


def diff(network: Network, a: str, b: str) -> Generator[str, None, WeightsDiff]:
    yield f"comparing {os.path.basename(a)} with {os.path.basename(b)}"
    return diff_weights(network, a, b)
