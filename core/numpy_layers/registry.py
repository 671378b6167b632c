"""The numpy side of the layer types (torch-free): each covered type's step builder,
registered by layer type name (the names of core.layers' registry), mirroring
core.torch_layers.registry. A builder meets an option it does not implement and raises
`NotCovered` naming it; `numpy_engine` then says which layer and cfg line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.registry import layer_type
from darknet_inspector.core.numpy_layers.rows import RowPool

Step = Callable[..., np.ndarray]
"""One layer's forward at inference: its sources' outputs, (H, W, C) float32 arrays in
the order of `layer.inputs`, -> its output (H, W, C). A step never writes its inputs."""
Tensors = Mapping[str, np.ndarray]
"""A layer's Darknet tensors by name (`biases`, `weights`, ...), natural shapes."""
StepBuilder = Callable[[Layer, Tensors, RowPool], Step]
Check = Callable[[Layer], None]
B = TypeVar("B", bound=StepBuilder)


class NotCovered(Exception):
    """The numpy engine does not implement this layer as configured; `reason` names the
    option (`antialiasing=1`, `activation=normalize_channels`, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


NOT_RUNNABLE = "not runnable in this tool"

_BUILDERS: dict[str, StepBuilder] = {}
_CHECKS: dict[str, Check] = {}


def step_for(*names: str, check: Check | None = None) -> Callable[[B], B]:
    """Decorator: `builder(layer, tensors, rows)` makes the step of layers of these types;
    `check(layer)` raises NotCovered for what it does not implement, before any tensor is
    needed (so a network can be judged without its weights)."""
    def register(builder: B) -> B:
        for name in names:
            if layer_type(name) is None:
                raise ValueError(f"[{name}] is not a registered layer type (core.layers)")
            if name in _BUILDERS:
                raise ValueError(f"[{name}] registered twice")
            _BUILDERS[name] = builder
            if check is not None:
                _CHECKS[name] = check
        return builder

    return register


def check_covered(layer: Layer) -> None:
    """NotCovered unless layer `layer` can run as a numpy step."""
    if layer.type not in _BUILDERS:
        raise NotCovered(f"no numpy step for [{layer.type}]")
    check = _CHECKS.get(layer.type)
    if check is not None:
        check(layer)
    if not layer.runnable:
        raise NotCovered(NOT_RUNNABLE)


def build_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    """The step layer `layer` runs as (NotCovered when it cannot)."""
    check_covered(layer)
    return _BUILDERS[layer.type](layer, tensors, rows)


def step_types() -> list[str]:
    return sorted(_BUILDERS)
