"""[upsample] as numpy: `forward_upsample_layer` (src/upsample_layer.c): nearest repeat
for stride > 0, the sum of stride x stride blocks for a negative stride, times `scale`."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.upsample import UpsampleParams
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def upsample_step(stride: int, scale: float) -> Step:
    def upsample(x: np.ndarray) -> np.ndarray:
        h, w, c = x.shape
        if stride > 0:
            blocks = np.empty((h, stride, w, stride, c), np.float32)
            blocks[...] = x[:, None, :, None, :]
            y = blocks.reshape(h * stride, w * stride, c)
        else:
            k = -stride
            y = x[:h // k * k, :w // k * k].reshape(h // k, k, w // k, k, c).sum(axis=(1, 3))
        if scale != 1.0:
            y *= np.float32(scale)
        return y

    return upsample


@step_for("upsample")
def _upsample_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(UpsampleParams)
    return upsample_step(p.stride, p.scale)
