"""The one table of layer types: `@register` a class, look it up by section type."""

from __future__ import annotations

from darknet_inspector.core.layers.base import LayerType
from darknet_inspector.core.layers.head import HeadType

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


def built_layer_type(name: str) -> LayerType:
    """The type of a layer that was built (it has shapes, weights or a module): building
    found it registered, so a missing one is a bug, a KeyError naming it."""
    kind = _REGISTRY.get(name)
    if kind is None:
        raise KeyError(f"layer type [{name}] is not registered")
    return kind


def head_type(name: str) -> HeadType | None:
    """The registered type of a detection head, or None for any other layer type."""
    kind = _REGISTRY.get(name)
    return kind if isinstance(kind, HeadType) else None


def is_head(name: str) -> bool:
    kind = _REGISTRY.get(name)
    return kind is not None and kind.is_head


def registered_types() -> list[str]:
    return sorted(_REGISTRY)
