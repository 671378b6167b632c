"""How `get_detection_detections` (src/detection_layer.c, YOLOv1) decodes a [detection]
head's output."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.decoding.base import Decoded, HeadDecoder, Size, decoder_for
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.detection import DetectionParams


def detection_box_values(p: DetectionParams, flat: np.ndarray) -> np.ndarray:
    """`get_detection_detections` reads 4 values per box from side*side*(classes + num) on,
    whatever `coords` says; (side*side*num, 4), or a clear error when they run past."""
    cells = p.side * p.side
    start = cells * (p.classes + p.num)
    end = start + cells * p.num * 4
    if end > flat.size:
        raise InspectorError(f"[detection] coords={p.coords}: Darknet reads 4 box values per "
                             f"box, {end} values in all, but the layer holds {flat.size}")
    return flat[start:end].reshape(-1, 4)


def decode_detection(p: DetectionParams, output: np.ndarray) -> Decoded:
    """`get_detection_detections` (src/detection_layer.c, YOLOv1): the output holds every
    cell's class scores, then each box's scale, then each box's x, y, w, h; cells
    row-major, boxes of a cell fastest. x = (x + col)/side, y = (y + row)/side, w and h
    raw (squared with `sqrt=1`); prob = scale * class score of the box's cell. Every box
    is a candidate (no objectness gate; a prob at or below thresh is zeroed)."""
    flat = output.reshape(-1)
    cells = p.side * p.side
    values = detection_box_values(p, flat)
    cell = np.arange(cells * p.num) // p.num
    col = (cell % p.side).astype(flat.dtype)
    row = (cell // p.side).astype(flat.dtype)
    size = values[:, 2:4] ** 2 if p.sqrt else values[:, 2:4]
    boxes = np.concatenate([((values[:, 0] + col) / p.side)[:, None],
                            ((values[:, 1] + row) / p.side)[:, None], size], axis=1)
    scale = flat[cells * p.classes:cells * (p.classes + p.num)]
    classes = flat[:cells * p.classes].reshape(cells, p.classes)[cell]
    gate = np.full((cell.size,), np.inf, dtype=flat.dtype)
    return Decoded(boxes, gate, scale[:, None] * classes)


@decoder_for("detection")
class DetectionDecoder(HeadDecoder):
    def decode(self, layer: Layer, output: np.ndarray, input_size: Size) -> Decoded:
        return decode_detection(layer.params_as(DetectionParams), output)

    def objectness(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """Each box's scale, (num, side, side)."""
        p = layer.params_as(DetectionParams)
        cells = p.side * p.side
        start = cells * p.classes
        scales = output.reshape(-1)[start:start + cells * p.num].reshape(p.side, p.side, p.num)
        return scales.transpose(2, 0, 1)
