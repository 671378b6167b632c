"""[cost]: the network's result passes through it (`get_network_output` skips it) while
Darknet's own `l.output` stays zero at inference."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.layers.cost import CostParams
from tests.core.layers.layer_support import build, loaded, messages, outputs, random_input

BODY = "[avgpool]\n\n[softmax]\ngroups=1\n\n[cost]\ntype=sse\n"


def test_cost_passes_the_softmax_through_as_the_classifier_head(tmp_path):
    network = build(BODY)
    assert network.layers[2].output_shape == (3,)
    assert network.heads == [2]
    model, _, _ = loaded(network, tmp_path)
    _, probabilities, head = outputs(model, random_input(network))
    np.testing.assert_array_equal(head, probabilities)


def test_cost_dump_is_zero_as_in_darknet():
    network = build(BODY)
    layer = network.layers[2]
    dumped = layer_type("cost").darknet_output(layer, np.ones(3, dtype=np.float32))
    assert dumped.shape == (3,) and not dumped.any()


def test_unknown_cost_type_falls_back_to_sse():
    network = build(BODY.replace("type=sse", "type=l1"))
    assert network.layers[2].params == CostParams("sse")
    assert any("Darknet uses sse" in m for m in messages(network, "warning"))
