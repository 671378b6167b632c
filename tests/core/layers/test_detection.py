"""[detection] (YOLO v1): the size rule with its fix, the flat output, and
`forward_detection_layer` at inference (softmax over each cell's classes)."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.detection import DetectionParams
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    outputs,
    random_input,
    softmax,
)


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
