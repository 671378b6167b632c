"""The torch side of the layer types: each type's module builder, registered by layer
type name (the names of core.layers' registry). Heads decode in core.decoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.registry import layer_type
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.held import NotRunnable

ModuleBuilder = Callable[[Layer], DarknetModule]
B = TypeVar("B", bound=ModuleBuilder)

_BUILDERS: dict[str, ModuleBuilder] = {}


def _checked_name(name: str, table: dict) -> None:
    if layer_type(name) is None:
        raise ValueError(f"[{name}] is not a registered layer type (core.layers)")
    if name in table:
        raise ValueError(f"[{name}] registered twice")


def module_for(*names: str) -> Callable[[B], B]:
    """Decorator: `builder(layer)` makes the torch module of layers of these types."""
    def register(builder: B) -> B:
        for name in names:
            _checked_name(name, _BUILDERS)
            _BUILDERS[name] = builder
        return builder

    return register


def build_module(layer: Layer) -> DarknetModule:
    """The torch module layer `layer` runs as (one that refuses to run for a layer shown
    but not run that holds no tensors)."""
    if not layer.runnable and not layer.weights:
        return NotRunnable(layer)
    builder = _BUILDERS.get(layer.type)
    if builder is None:
        raise KeyError(f"layer type [{layer.type}] has no torch module registered")
    module = builder(layer)
    if not isinstance(module, DarknetModule):
        raise TypeError(f"{type(module).__name__} is not a DarknetModule")
    return module


def module_types() -> list[str]:
    return sorted(_BUILDERS)

