"""The numpy side of the layer types (no torch, ever): each covered family's step builder,
registered by layer type name, for core.numpy_engine. Importing this package registers
them all."""

from importlib import import_module

from darknet_inspector.core.numpy_layers.registry import (
    NotCovered,
    build_step,
    check_covered,
    step_types,
)

NUMPY_FAMILIES = ("convolutional", "dropout", "pooling", "region", "reorg", "route",
                  "shortcut", "upsample", "yolo")
"""The families of core.layers.FAMILIES with a numpy step (the rest are NotCovered)."""

for _family in NUMPY_FAMILIES:
    import_module(f"{__name__}.{_family}")

__all__ = ["NUMPY_FAMILIES", "NotCovered", "build_step", "check_covered", "step_types"]
