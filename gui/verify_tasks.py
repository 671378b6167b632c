"""Verification and weights-diff jobs as generators (no Qt): run by `gui.workers`.

They call core only: `core.verify` for the layer-by-layer comparison, `core.diff` for
two weights files of one cfg, `core.export` to write a .pt back as .weights.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass

from darknet_inspector.core.diff import WeightsDiff, diff_weights
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.export import WeightsSource, export_weights, weights_source
from darknet_inspector.core.model import checked_model
from darknet_inspector.core.network import Network
from darknet_inspector.core.verify import (
    DEFAULT_TOLERANCE,
    VerifyReport,
    verify_input,
    verify_model,
)


@dataclass
class VerifyRequest:
    network: Network
    weights: str
    image: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    device: str = "cpu"


def verify(request: VerifyRequest) -> Generator[str, None, VerifyReport]:
    """Load the model from the weights file, then compare it with every reference."""
    network = request.network
    yield f"loading {os.path.basename(request.weights)}"
    model = checked_model(network, request.weights)
    yield "preparing the input"
    x, described = verify_input(network, request.image)
    yield "running our model and the references"
    return verify_model(model.to(request.device), request.weights, x, described,
                        request.tolerance, request.device)


def diff(network: Network, a: str, b: str) -> Generator[str, None, WeightsDiff]:
    yield f"comparing {os.path.basename(a)} with {os.path.basename(b)}"
    return diff_weights(network, a, b)


def write_back(model_path: str, output: str, cfg: str | None = None
               ) -> Generator[str, None, WeightsSource]:
    """Our .pt (or a state_dict + cfg) -> Darknet .weights."""
    yield f"reading {os.path.basename(model_path)}"
    source = weights_source(model_path, cfg)
    if source.errors:
        raise InspectorError(str(source.errors[0]))
    yield f"writing {os.path.basename(output)}"
    export_weights(source, output)
    return source
