"""[dropout] as numpy: the identity at inference (`forward_dropout_layer`,
src/dropout_layer.c)."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def identity(x: np.ndarray) -> np.ndarray:
    return x


@step_for("dropout")
def _dropout_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    return identity
