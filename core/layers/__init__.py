"""Layer types, one module per family; importing this package registers them all."""

from importlib import import_module

from darknet_inspector.core.layers.registry import (
    built_layer_type,
    head_type,
    is_head,
    layer_type,
    registered_types,
)

FAMILIES = (
    "activation",
    "attention",
    "batchnorm",
    "connected",
    "contrastive",
    "convolutional",
    "cost",
    "crop",
    "detection",
    "dropout",
    "empty",
    "gaussian_yolo",
    "implicit",
    "local",
    "normalization",
    "pooling",
    "recurrent",
    "region",
    "reorg",
    "route",
    "shortcut",
    "softmax",
    "upsample",
    "yolo",
)
"""One module per family here, and its torch side of the same name in core.torch_layers."""

for _family in FAMILIES:  # importing a family registers its types
    import_module(f"{__name__}.{_family}")

__all__ = ["FAMILIES", "built_layer_type", "head_type", "is_head", "layer_type", "registered_types"]
