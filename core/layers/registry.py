"""The one table of layer types: `@register` a class, look it up by section type."""

from __future__ import annotations

from darknet_inspector.core.layers.base import LayerType

_REGISTRY: dict[str, LayerType] = {}


def register(cls: type[LayerType]) -> type[LayerType]:
    """Class decorator: registers one instance under `cls.name`; twice is an error."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no layer type name")
    if cls.name in _REGISTRY:
        raise ValueError(f"layer type [{cls.name}] registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def layer_type(name: str) -> LayerType | None:
    return _REGISTRY.get(name)


def registered_types() -> list[str]:
    return sorted(_REGISTRY)
