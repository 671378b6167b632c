"""Layer types, one module per family; importing this package registers them all."""

from core.layers import (  # noqa: F401  (imported to register)
    convolutional,
    dropout,
    pooling,
    route,
    shortcut,
    upsample,
    yolo,
)
from core.layers.registry import layer_type, registered_types

__all__ = ["layer_type", "registered_types"]
