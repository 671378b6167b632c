"""[yolo] as numpy: `forward_yolo_layer` (src/yolo_layer.c) at inference on an (H, W, C)
array, as core.torch_layers.yolo.YoloModule: logistic on x, y, objectness and classes
(none with new_coords=1), then x, y scaled by scale_x_y around the cell centre."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.yolo import YoloParams
from darknet_inspector.core.numpy_layers.activations import logistic_
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def yolo_step(anchors: int, classes: int, scale_x_y: float, new_coords: bool) -> Step:
    entries = 5 + classes

    def yolo(x: np.ndarray) -> np.ndarray:
        h, w, c = x.shape
        out = x.copy()
        if c != anchors * entries:
            return out
        v = out.reshape(h, w, anchors, entries)
        if not new_coords:
            xy, rest = v[..., 0:2].copy(), v[..., 4:].copy()
            logistic_(xy)
            logistic_(rest)
            v[..., 0:2], v[..., 4:] = xy, rest
        if scale_x_y != 1.0:
            v[..., 0:2] = v[..., 0:2] * np.float32(scale_x_y) \
                - np.float32(0.5 * (scale_x_y - 1.0))
        return out

    return yolo


@step_for("yolo")
def _yolo_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(YoloParams)
    return yolo_step(len(p.mask), p.classes, p.scale_x_y, p.new_coords)
