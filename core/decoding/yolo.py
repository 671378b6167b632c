"""How `get_yolo_detections` (src/yolo_layer.c) decodes a [yolo] head's output."""

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
from darknet_inspector.core.layers.yolo import YoloParams


def decode_yolo(params: YoloParams, output: np.ndarray, input_size: Size) -> Decoded:
    """`get_yolo_detections` / `get_yolo_box` (src/yolo_layer.c): x, y already logistic
    and scale_x_y-shifted by the layer; w, h = exp(t)*anchor/net (new_coords=0) or
    t*t*4*anchor/net (new_coords=1), anchors in input pixels; prob = objectness * class."""
    _, h, w = output.shape
    entries, col, row = cell_entries(output, len(params.mask))
    anchor = anchor_rows(params.anchor_boxes, h * w)
    net = np.asarray(input_size, dtype=output.dtype)
    t_wh = entries[:, 2:4]
    scale = t_wh * t_wh * 4 if params.new_coords else np.exp(t_wh)
    centres = np.stack([(col + entries[:, 0]) / w, (row + entries[:, 1]) / h], axis=1)
    boxes = np.concatenate([centres, scale * anchor / net], axis=1)
    objectness = entries[:, 4]
    return Decoded(boxes, objectness, objectness[:, None] * entries[:, 5:])


@decoder_for("yolo")
class YoloDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: np.ndarray, input_size: Size) -> Decoded:
        return decode_yolo(layer.params_as(YoloParams), output, input_size)
