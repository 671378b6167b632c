"""Each head type answers its own questions (core.layers.head): that it is a head, the
input its feeder must give, its anchors, whether the preview decodes it, its OpenCV
layout; every layer's facts are a typed dataclass; one function places every tensor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from darknet_inspector.core.decoding import head_decoder
from darknet_inspector.core.detect import decodable_types
from darknet_inspector.core.layers import head_type, is_head, layer_type, registered_types
from darknet_inspector.core.layers.base import LayerParams, NoParams
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.layers.yolo import YoloParams
from darknet_inspector.core.network import load_network
from darknet_inspector.core.opencv_dnn import HEAD_SECTIONS, as_opencv
from darknet_inspector.core.weights import tensor_offsets
from tests.core.layers.layer_support import build

HEADS = {"yolo", "Gaussian_yolo", "region", "detection"}

YOLO = ("[convolutional]\nfilters=21\nsize=1\nactivation=linear\n\n"
        "[yolo]\nmask=1,2,3\nanchors=1,2,3,4,5,6,7,8\nclasses=2\nnum=4\n")


def test_exactly_the_four_detection_heads_say_they_are_heads():
    assert {name for name in registered_types() if is_head(name)} == HEADS
    assert all(head_type(name) is not None for name in HEADS)
    assert head_type("convolutional") is None and not layer_type("convolutional").is_head


def test_the_preview_decodes_every_head():
    assert decodable_types() == ["Gaussian_yolo", "detection", "region", "yolo"]


def test_opencv_builds_yolo_and_region_as_heads():
    assert HEAD_SECTIONS == ("region", "yolo")


def test_yolo_answers_its_rule_anchors_and_filters_per_class():
    network = build(YOLO)
    layer = network.layers[1]
    head = head_type(layer.type)
    assert head.required_inputs(layer) == (2 + 5) * 3
    assert head.anchor_boxes(layer) == [(3, 4), (5, 6), (7, 8)]
    assert head.filters_per_class(layer) == 3
    assert head.params(layer).classes == 2


def test_detection_has_no_per_anchor_filters():
    network = build("[connected]\noutput=52\nactivation=linear\n\n"
                    "[detection]\nclasses=3\ncoords=4\nnum=2\nside=2\n")
    layer = network.layers[1]
    head = head_type(layer.type)
    assert head.required_inputs(layer) == 2 * 2 * ((1 + 4) * 2 + 3)
    assert head.filters_per_class(layer) is None
    assert head_decoder(layer.type) is not None


def test_as_opencv_leaves_a_plain_layer_as_it_is():
    network = build(YOLO)
    output = np.ones((21, 8, 8), np.float32)
    assert as_opencv(network, network.layers[0], output) is output
    assert as_opencv(network, network.layers[1], output).shape == (8 * 8 * 3, 7)


def test_every_built_layer_keeps_frozen_typed_params(zoo):
    network = load_network(zoo / "cfg" / "yolov4-tiny.cfg")
    for layer in network.layers:
        assert isinstance(layer.params, LayerParams) and dataclasses.is_dataclass(layer.params)
        with pytest.raises(dataclasses.FrozenInstanceError):
            layer.params.anything = 1  # type: ignore[misc]
    conv = network.layers[0].params_as(ConvolutionalParams)
    assert (conv.filters, conv.size, conv.stride_x, conv.batch_normalize) == (32, 3, 2, True)
    with pytest.raises(TypeError, match="layer 0 \\[convolutional\\]"):
        network.layers[0].params_as(YoloParams)


def test_a_layer_that_failed_to_build_has_no_params():
    network = build("[convolutional]\nfilters=20\nsize=1\n\n[yolo]\nmask=0\nnum=0\n")
    assert network.layers[1].params == NoParams()


def test_tensor_offsets_follow_the_header_layer_by_layer():
    network = build(YOLO)
    offsets = tensor_offsets(network, 20)
    assert offsets == {(0, "biases"): 20, (0, "weights"): 20 + 4 * 21}
    assert tensor_offsets(network, 16)[(0, "weights")] == 16 + 4 * 21
