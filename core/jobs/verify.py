"""Verify a model layer by layer against the references (OpenCV DNN's Darknet importer,
CPU against CUDA): `verify` on the command line, the Verify tab in the app."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass

import torch

from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.model import DarknetModel, checked_model
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
    device: str | torch.device = "cpu"
    converted: str | None = None  # verify this converted .pt instead (same network)


def verify(request: VerifyRequest) -> Generator[str, None, VerifyReport]:
    """Load the model from the weights file (or the converted .pt), then compare it with
    every reference; the references always read the weights file."""
    network = request.network
    yield f"loading {os.path.basename(request.weights)}"
    model = checked_model(network, request.weights)
    if request.converted:
        yield f"loading {os.path.basename(request.converted)}"
        model = converted_model(request.converted, model)
    yield "preparing the input"
    x, described = verify_input(network, request.image)
    yield "running our model and the references"
    return verify_model(model.to(request.device), request.weights, x, described,
                        request.tolerance, request.device)


def converted_model(path: str, loaded: DarknetModel) -> DarknetModel:
    """A converted .pt, which must describe the same network as the loaded model (same
    layers and shapes)."""
    from darknet_inspector.core.pt_file import load_pt

    converted = load_pt(path)
    ours = [(layer.type, layer.output_shape) for layer in converted.network.layers]
    theirs = [(layer.type, layer.output_shape) for layer in loaded.network.layers]
    if ours != theirs:
        raise UsageError("--model: its embedded cfg does not describe the network of CFG at "
                         "this size (layers or shapes differ)")
    return converted
