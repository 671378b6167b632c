"""Modules for layers this tool shows but does not run: they hold the Darknet tensors so
weights load, convert and export, and refuse to run with a message."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.torch_layers.base import DarknetModule


def not_runnable_message(layer: Layer) -> str:
    """Why running stops at `layer`: its type's own reason (`Built.refusal`) when it has
    one, e.g. the file to give, else that this tool shows the layer but does not run it."""
    if layer.refusal:
        return layer.refusal
    return (f"layer {layer.index} ([{layer.section.name}], cfg line {layer.line}) is not "
            "runnable in this tool; its shapes and weights are still shown")


def refuse_if_not_runnable(layer_message: str | None) -> None:
    """Called first in the forward pass of a module built for a non-runnable layer."""
    if layer_message is not None:
        raise InspectorError(layer_message)


class HeldTensors(DarknetModule):
    """Holds a layer's tensors (nested layers as submodules named like `input_layer`)."""

    def __init__(self, layer: Layer):
        super().__init__()
        self.message = not_runnable_message(layer)
        for spec in layer.weights:
            owner: nn.Module = self
            *path, attr = spec.name.split(".")
            for part in path:
                if not hasattr(owner, part):
                    owner.add_module(part, DarknetModule())
                owner = getattr(owner, part)
            owner.register_parameter(attr, nn.Parameter(torch.zeros(spec.shape),
                                                        requires_grad=False))

    def forward(self, *xs: Tensor) -> Tensor:
        raise InspectorError(self.message)


class NotRunnable(DarknetModule):
    """Stands in for a layer this tool shows but does not run and that has no tensors."""

    def __init__(self, layer: Layer):
        super().__init__()
        self.message = not_runnable_message(layer)

    def forward(self, *xs: Tensor) -> Tensor:
        raise InspectorError(self.message)
