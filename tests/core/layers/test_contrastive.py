"""[contrastive]: it must name an earlier [yolo] whose embedding layer it reads; at
inference it passes its input on (Darknet's CPU `l.output` stays zero)."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.layers.contrastive import ContrastiveParams
from darknet_inspector.core.network import load_network
from tests.core.layers.layer_support import build, loaded, messages, outputs, random_input


def tracker(yolo_layer: str = "-2", embedding: int = 8) -> str:
    return (f"[convolutional]\nfilters={embedding}\nsize=1\nactivation=linear\n\n"
            "[convolutional]\nfilters=12\nsize=1\nactivation=linear\n\n"
            "[yolo]\nmask=0,1\nanchors=1,2,3,4\nclasses=1\nnum=2\nembedding_layer=-2\n\n"
            "[route]\nlayers=-3\n\n"
            f"[contrastive]\nclasses=1\ntemperature=1.0\nyolo_layer={yolo_layer}\n"
            "cls_normalizer=1.0\nmax_delta=10\n")


def test_contrastive_links_to_the_yolo_and_passes_its_input_on(tmp_path):
    network = build(tracker())
    assert network.diagnostics == []
    layer = network.layers[4]
    assert layer.params == ContrastiveParams(yolo_layer=2, embedding_size=4)
    assert layer.output_shape == (8, 8, 8)
    model, _, _ = loaded(network, tmp_path)
    result = outputs(model, random_input(network))
    np.testing.assert_array_equal(result[4], result[3])
    dumped = layer_type("contrastive").darknet_output(layer, result[4][0])
    assert not dumped.any()


def test_contrastive_must_point_at_a_yolo_layer():
    for value in ("0", "-1", "7"):
        (error,) = messages(build(tracker(yolo_layer=value)), "error")
        assert "must name an earlier [yolo]" in error


def test_contrastive_embedding_must_match_the_yolo_embedding_layer():
    body = tracker() .replace("[route]\nlayers=-3", "[route]\nlayers=-2")
    (error,) = messages(build(body), "error")
    assert "embedding values per anchor" in error


def test_zoo_contrastive_cfg_builds(zoo):
    network = load_network(zoo / "cfg" / "yolov4-tiny_contrastive.cfg")
    assert network.errors == []
    assert network.layers[-1].type == "contrastive"
