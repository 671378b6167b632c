"""The recurrent family: nested layers in `load_weights_upto` order with their byte
counts, output shapes, weights that load into dotted names, and [history]'s copy."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.network import load_network
from darknet_inspector.core.weights import WeightsHeader
from tests.core.layers.layer_support import build, layout, loaded, messages, outputs, random_input


def connected(prefix: str, inputs: int, outputs_: int, bn: bool):
    specs = [(prefix + "biases", (outputs_,)), (prefix + "weights", (outputs_, inputs))]
    if bn:
        specs += [(prefix + name, (outputs_,))
                  for name in ("scales", "rolling_mean", "rolling_variance")]
    return specs


def conv(prefix: str, filters: int, channels: int, size: int, bn: bool):
    specs = [(prefix + "biases", (filters,))]
    if bn:
        specs += [(prefix + name, (filters,))
                  for name in ("scales", "rolling_mean", "rolling_variance")]
    return specs + [(prefix + "weights", (filters, channels, size, size))]


def test_rnn_nests_input_self_output_connected_layers():
    network = build("[rnn]\nbatch_normalize=1\noutput=5\nhidden=4\nactivation=leaky\n",
                    width=2, height=2, channels=3)
    layer = network.layers[0]
    assert layer.output_shape == (5,)
    assert layout(network, 0) == (connected("input_layer.", 12, 4, True)
                                  + connected("self_layer.", 4, 4, True)
                                  + connected("output_layer.", 4, 5, True))
    assert layer.weight_bytes == 4 * ((4 + 48 + 12) + (4 + 16 + 12) + (5 + 20 + 15))
    assert layer.runnable
    assert messages(network, "warning") == []


def test_gru_loads_input_then_state_gates():
    network = build("[gru]\noutput=3\n", width=2, height=1, channels=2)
    assert network.layers[0].output_shape == (3,)
    expected = []
    for name in ("input_z_layer", "input_r_layer", "input_h_layer"):
        expected += connected(name + ".", 4, 3, False)
    for name in ("state_z_layer", "state_r_layer", "state_h_layer"):
        expected += connected(name + ".", 3, 3, False)
    assert layout(network, 0) == expected


def test_lstm_loads_w_gates_then_u_gates():
    network = build("[lstm]\noutput=3\nbatch_normalize=1\n", width=2, height=1, channels=2)
    expected = []
    for name in ("wf", "wi", "wg", "wo"):
        expected += connected(name + ".", 3, 3, True)
    for name in ("uf", "ui", "ug", "uo"):
        expected += connected(name + ".", 4, 3, True)
    assert layout(network, 0) == expected
    assert network.layers[0].output_shape == (3,)


def test_crnn_nests_three_convolutions():
    network = build("[crnn]\nbatch_normalize=1\nsize=3\npad=1\noutput=6\nhidden=4\n"
                    "activation=leaky\n", channels=2)
    assert network.layers[0].output_shape == (6, 8, 8)
    assert layout(network, 0) == (conv("input_layer.", 4, 2, 3, True)
                                  + conv("self_layer.", 4, 4, 3, True)
                                  + conv("output_layer.", 6, 4, 3, True))


def test_crnn_that_shrinks_its_state_is_an_error():
    network = build("[crnn]\nsize=3\noutput=6\nhidden=4\n")
    (error,) = messages(network, "error")
    assert "must keep the input size" in error


@pytest.mark.parametrize("peephole, bottleneck, order", [
    (0, 0, ["wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo"]),
    (1, 0, ["vf", "vi", "vo", "wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo"]),
    (1, 1, ["vf", "vi", "vo", "wf", "uf", "ui", "ug", "uo"]),
])
def test_conv_lstm_load_order_and_channels(peephole, bottleneck, order):
    network = build(f"[conv_lstm]\noutput=4\nsize=3\npad=1\npeephole={peephole}\n"
                    f"bottleneck={bottleneck}\n", channels=2)
    assert network.layers[0].output_shape == (4, 8, 8)
    expected = []
    for name in order:
        channels = 2 if name.startswith("u") else (8 if name == "wf" and bottleneck else 4)
        expected += conv(name + ".", 4, channels, 3, False)
    assert layout(network, 0) == expected


def test_recurrent_weights_load_into_dotted_names_including_transposed(tmp_path):
    network = build("[rnn]\noutput=3\nhidden=2\n", width=2, height=1, channels=1)
    plain_dir, flipped_dir = tmp_path / "plain", tmp_path / "flipped"
    plain_dir.mkdir()
    flipped_dir.mkdir()
    model, tensors, _ = loaded(network, plain_dir)
    flipped, _, _ = loaded(network, flipped_dir, header=WeightsHeader(1001, 0, 0))
    for (index, name), values in tensors.items():
        np.testing.assert_array_equal(model.layers[index].darknet_tensor(name).numpy(), values)
        np.testing.assert_array_equal(flipped.layers[index].darknet_tensor(name).numpy(),
                                      values)
    np.testing.assert_array_equal(outputs(model, np.ones((1, 1, 1, 2)))[0],
                                  outputs(flipped, np.ones((1, 1, 1, 2)))[0])


def test_history_keeps_the_input_then_zeros(tmp_path):
    network = build("[history]\nhistory_size=3\n", width=2, height=2, channels=2)
    assert network.layers[0].output_shape == (6, 2, 2)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network, batch=2)
    got = outputs(model, x)[0]
    buffer = np.zeros(2 * 24, dtype=np.float32)  # Darknet copies inputs*batch contiguously
    buffer[:16] = x.ravel()
    np.testing.assert_array_equal(got.ravel(), buffer)
    np.testing.assert_array_equal(outputs(model, x[:1])[0][0, :2], x[0])


@pytest.mark.parametrize("name", ["rnn.cfg", "gru.cfg", "lstm.train.cfg", "crnn.train.cfg",
                                  "yolov3-tiny_occlusion_track.cfg"])
def test_zoo_recurrent_cfgs_build_and_hold_their_tensors(zoo, name):
    network = load_network(zoo / "cfg" / name)
    assert network.errors == []
    model = DarknetModel(network)
    assert set(model.darknet_tensors()) == {
        (layer.index, spec.name) for layer in network.layers for spec in layer.weights}
