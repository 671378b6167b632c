"""[detection] (YOLO v1): the size rule with its fix, the flat output, and
`forward_detection_layer` at inference (softmax over each cell's classes)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from darknet_inspector.core.decoding import head_decoder
from darknet_inspector.core.decoding.detection import decode_detection
from darknet_inspector.core.detect import Detector
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.detection import DetectionParams
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import load_network
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    outputs,
    random_input,
    softmax,
)
from tests.core.layers.layer_support import cfg as cfg_text
from tests.helpers import write_random_weights


def detection(output: int = 2 * 2 * ((1 + 4) * 2 + 3), soft: int = 1) -> str:
    return (f"[connected]\noutput={output}\nactivation=linear\n\n"
            f"[detection]\nclasses=3\ncoords=4\nrescore=1\nside=2\nnum=2\nsoftmax={soft}\n"
            "sqrt=1\njitter=.2\nobject_scale=1\nnoobject_scale=.5\nclass_scale=1\n"
            "coord_scale=5\n")


def test_detection_is_flat_with_its_params():
    network = build(detection())
    assert network.diagnostics == []
    layer = network.layers[1]
    assert layer.output_shape == (52,)
    assert layer.params == DetectionParams(classes=3, coords=4, num=2, side=2, sqrt=True,
                                           softmax=True)
    assert network.heads == [1]


def test_detection_size_mismatch_names_the_connected_output_line():
    (error,) = messages(build(detection(output=50)), "error")
    assert "= 52 inputs but gets 50" in error
    assert "set output=52 on line 7" in error


def test_detection_softmaxes_each_cells_classes_and_copies_the_rest(tmp_path):
    network = build(detection())
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    expected = raw.copy()
    expected[0, :12] = softmax(raw[0, :12].reshape(4, 3), axis=1).ravel()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_detection_without_softmax_is_a_copy(tmp_path):
    network = build(detection(soft=0))
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    np.testing.assert_array_equal(got, raw)


def test_detection_decodes_as_get_detection_detections():
    """side=2, num=2, classes=3: 12 class scores, 8 scales, then 8 boxes of 4 values."""
    params = DetectionParams(classes=3, coords=4, num=2, side=2, sqrt=True, softmax=True)
    rng = np.random.default_rng(0)
    flat = rng.uniform(0.1, 0.9, 52).astype(np.float32)
    decoded = decode_detection(params, flat)
    classes, scales, boxes = flat[:12].reshape(4, 3), flat[12:20], flat[20:].reshape(8, 4)
    for i in range(4):  # cells, row-major
        row, col = divmod(i, 2)
        for n in range(2):
            k = i * 2 + n
            x, y, w, h = boxes[k]
            expected = [(x + col) / 2, (y + row) / 2, w * w, h * h]
            np.testing.assert_allclose(decoded.boxes[k], expected, rtol=1e-6)
            np.testing.assert_allclose(decoded.probs[k], scales[k] * classes[i],
                                       rtol=1e-6)
    assert np.isinf(decoded.gate).all()
    no_sqrt = decode_detection(dataclasses.replace(params, sqrt=False), flat)
    np.testing.assert_allclose(no_sqrt.boxes[:, 2:], boxes[:, 2:], rtol=1e-6)


def test_detection_objectness_is_each_boxs_scale_per_cell():
    network = build(detection())
    flat = np.arange(52, dtype=np.float32)
    got = head_decoder("detection").objectness(network.layers[1], flat)
    assert got.shape == (2, 2, 2)
    assert got[1, 0, 1].item() == 12 + 1 * 2 + 1  # box 1 of cell (row 0, col 1)


def test_detection_with_fewer_than_four_coords_says_darknet_reads_past_it():
    params = DetectionParams(classes=1, coords=2, num=1, side=1)
    with pytest.raises(InspectorError, match="coords=2: Darknet reads 4 box values"):
        decode_detection(params, np.zeros(params.required_inputs, np.float32))


def test_detect_finds_yolov1_boxes_in_image_pixels(tmp_path):
    cfg = tmp_path / "v1.cfg"
    cfg.write_text(cfg_text(detection()))
    weights = tmp_path / "v1.weights"
    write_random_weights(load_network(cfg), weights, seed=2)
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (30, 50, 3), np.uint8)).save(image)
    detector = Detector(load_model(cfg, weights)[0])
    inference = detector.infer(image)
    found = detector.detections(inference, conf=0.0, nms=0)
    decoded = inference.candidates[0]
    assert len(found) == int((decoded.probs > 0).sum()) > 0
    best = max(found, key=lambda d: d.confidence)
    index, k = divmod(int(np.argmax(decoded.probs)), 3)
    x, y, w, h = decoded.boxes[index].tolist()
    assert best.class_id == k
    assert best.box == pytest.approx([(x - w / 2) * 50, (y - h / 2) * 30,
                                      (x + w / 2) * 50, (y + h / 2) * 30])
