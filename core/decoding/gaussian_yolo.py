"""How `get_gaussian_yolo_detections` (src/gaussian_yolo_layer.c) decodes a
[Gaussian_yolo] head's output."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.decoding.base import (
    Decoded,
    HeadDecoder,
    Size,
    anchor_rows,
    cell_entries,
    decoder_for,
)
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.gaussian_yolo import YOLO_POINT_SHIFT, GaussianYoloParams


def decode_gaussian_yolo(params: GaussianYoloParams, output: np.ndarray, input_size: Size
                         ) -> Decoded:
    """`get_gaussian_yolo_detections` / `get_gaussian_yolo_box` (src/gaussian_yolo_layer.c):
    box means in entries 0, 2, 4, 6 (exp w, h), their uncertainties in 1, 3, 5, 7;
    prob = objectness * class * (1 - mean uncertainty); `yolo_point` moves the centre."""
    _, h, w = output.shape
    entries, col, row = cell_entries(output, len(params.mask))
    anchor = anchor_rows(params.anchor_boxes, h * w)
    net = np.asarray(input_size, dtype=output.dtype)
    wh = np.exp(entries[:, [4, 6]]) * anchor / net
    xy = np.stack([(col + entries[:, 0]) / w, (row + entries[:, 2]) / h], axis=1)
    xy = xy + np.float32(YOLO_POINT_SHIFT.get(params.yolo_point.lower(), 0.0)) * wh
    uncertainty = entries[:, [1, 3, 5, 7]].mean(axis=1, keepdims=True, dtype=output.dtype)
    objectness = entries[:, 8]
    probs = objectness[:, None] * entries[:, 9:] * (1 - uncertainty)
    return Decoded(np.concatenate([xy, wh], axis=1), objectness, probs)


@decoder_for("Gaussian_yolo")
class GaussianYoloDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: np.ndarray, input_size: Size) -> Decoded:
        return decode_gaussian_yolo(layer.params_as(GaussianYoloParams), output, input_size)
