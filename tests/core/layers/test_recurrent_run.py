"""The recurrent family run as Darknet's inference runs it (one time step from the zero
state), each against a numpy hand computation of `forward_*_layer` for tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.model import DarknetModel
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    outputs,
    random_input,
    sigmoid,
)

EPS = 0.00001


def leaky(x):
    return np.where(x > 0, x, 0.1 * x)


def bn(y, t, prefix, axis_shape):
    """Darknet's inference batch norm with rolling statistics, scales, then biases."""
    shape = (-1, *axis_shape)
    if (prefix + "scales") in t:
        y = ((y - t[prefix + "rolling_mean"].reshape(shape))
             / np.sqrt(t[prefix + "rolling_variance"].reshape(shape) + EPS)
             * t[prefix + "scales"].reshape(shape))
    return y + t[prefix + "biases"].reshape(shape)


def connected(x, t, prefix, act=lambda v: v):
    """`forward_connected_layer`: x @ W.T, BN, biases, activation."""
    return act(bn(x @ t[prefix + "weights"].T, t, prefix, ()))


def conv3x3(x, t, prefix, act=lambda v: v):
    """A 3x3, stride 1, pad 1 convolution by explicit shifts, then BN and activation."""
    w = t[prefix + "weights"]
    b, _, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((b, w.shape[0], h, wd), dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            patch = padded[:, :, dy:dy + h, dx:dx + wd]
            y += np.einsum("bchw,oc->bohw", patch, w[:, :, dy, dx])
    return act(bn(y, t, prefix, (1, 1)))


def tensors_of(all_tensors, index=0):
    return {name: v.astype(np.float64) for (i, name), v in all_tensors.items() if i == index}


def run(body, tmp_path, **size):
    network = build(body, **size)
    assert network.errors == [] and network.layers[0].runnable
    tmp_path.mkdir(exist_ok=True)
    model, tensors, _ = loaded(network, tmp_path, seed=3)
    x = random_input(network, batch=2, seed=4)
    return outputs(model, x)[0], x.astype(np.float64), tensors_of(tensors), network


def test_rnn_is_one_step_from_zero_state(tmp_path):
    got, x, t, _ = run("[rnn]\nbatch_normalize=1\noutput=3\nhidden=4\nactivation=leaky\n"
                       "logistic=1\n", tmp_path, width=2, height=1, channels=3)
    flat = x.reshape(2, -1)
    zero = np.zeros((2, 4))
    state = (connected(flat, t, "input_layer.", leaky)
             + connected(zero, t, "self_layer.", sigmoid))  # logistic=1: the self layer
    expected = connected(state, t, "output_layer.", leaky)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_rnn_shortcut_adds_the_zero_state_so_the_first_step_is_the_same(tmp_path):
    body = "[rnn]\noutput=3\nhidden=4\nactivation=tanh\n"
    plain, *_ = run(body, tmp_path / "a", width=2, height=1, channels=3)
    with_shortcut, *_ = run(body + "shortcut=1\n", tmp_path / "b", width=2, height=1,
                            channels=3)
    np.testing.assert_array_equal(plain, with_shortcut)


def test_rnn_swish_gives_zeros_as_activate_array_does(tmp_path):
    got, *_, network = run("[rnn]\noutput=3\nhidden=4\nactivation=swish\n", tmp_path,
                           width=2, height=1, channels=3)
    assert any("outputs 0 everywhere" in m for m in messages(network, "warning"))
    np.testing.assert_array_equal(got, np.zeros_like(got))


def test_gru_candidate_uses_logistic_and_mixes_with_the_zero_state(tmp_path):
    got, x, t, _ = run("[gru]\noutput=3\nbatch_normalize=1\n", tmp_path, width=2, height=2,
                       channels=1)
    flat = x.reshape(2, -1)
    s = np.zeros((2, 3))
    z = sigmoid(connected(flat, t, "input_z_layer.") + connected(s, t, "state_z_layer."))
    r = sigmoid(connected(flat, t, "input_r_layer.") + connected(s, t, "state_r_layer."))
    h = sigmoid(connected(flat, t, "input_h_layer.") + connected(r * s, t, "state_h_layer."))
    np.testing.assert_allclose(got, z * s + (1 - z) * h, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, (1 - z) * np.tanh(connected(flat, t, "input_h_layer.")
                                                  + connected(s, t, "state_h_layer.")))


def test_lstm_is_one_step_from_zero_h_and_c(tmp_path):
    got, x, t, _ = run("[lstm]\noutput=3\nbatch_normalize=1\n", tmp_path, width=2, height=2,
                       channels=1)
    flat = x.reshape(2, -1)
    h = c = np.zeros((2, 3))
    f = sigmoid(connected(h, t, "wf.") + connected(flat, t, "uf."))
    i = sigmoid(connected(h, t, "wi.") + connected(flat, t, "ui."))
    g = np.tanh(connected(h, t, "wg.") + connected(flat, t, "ug."))
    o = sigmoid(connected(h, t, "wo.") + connected(flat, t, "uo."))
    c = f * c + i * g
    np.testing.assert_allclose(got, o * np.tanh(c), rtol=1e-5, atol=1e-6)


def test_crnn_runs_its_three_convolutions_over_the_zero_state(tmp_path):
    got, x, t, _ = run("[crnn]\nbatch_normalize=1\nsize=3\npad=1\noutput=3\nhidden=2\n"
                       "activation=leaky\n", tmp_path, width=4, height=3, channels=2)
    zero = np.zeros((2, 2, 3, 4))
    state = conv3x3(x, t, "input_layer.", leaky) + conv3x3(zero, t, "self_layer.", leaky)
    expected = conv3x3(state, t, "output_layer.", leaky)
    assert got.shape == (2, 3, 3, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_conv_lstm_with_peephole_is_one_step_from_zero_state(tmp_path):
    got, x, t, _ = run("[conv_lstm]\nbatch_normalize=1\nsize=3\npad=1\noutput=2\n"
                       "peephole=1\n", tmp_path, width=3, height=3, channels=2)
    h = c = np.zeros((2, 2, 3, 3))
    f = sigmoid(conv3x3(h, t, "wf.") + conv3x3(x, t, "uf.") + conv3x3(c, t, "vf."))
    i = sigmoid(conv3x3(h, t, "wi.") + conv3x3(x, t, "ui.") + conv3x3(c, t, "vi."))
    g = np.tanh(conv3x3(h, t, "wg.") + conv3x3(x, t, "ug."))
    c = f * c + i * g
    o = sigmoid(conv3x3(h, t, "wo.") + conv3x3(x, t, "uo.") + conv3x3(c, t, "vo."))
    np.testing.assert_allclose(got, o * np.tanh(c), rtol=1e-5, atol=1e-6)


def test_conv_lstm_lstm_activation_follows_the_cfg_and_warns(tmp_path):
    got, x, t, network = run("[conv_lstm]\nsize=3\npad=1\noutput=2\nlstm_activation=relu\n",
                             tmp_path, width=3, height=3, channels=1)
    (warning,) = messages(network, "warning")
    assert "CPU forward uses tanh" in warning
    assert "GPU build refuses" in warning  # activate_and_mult takes tanh, leaky, linear
    zero = np.zeros((2, 2, 3, 3))
    f = sigmoid(conv3x3(zero, t, "wf.") + conv3x3(x, t, "uf."))
    i = sigmoid(conv3x3(zero, t, "wi.") + conv3x3(x, t, "ui."))
    g = np.maximum(conv3x3(zero, t, "wg.") + conv3x3(x, t, "ug."), 0)
    c = f * 0 + i * g
    o = sigmoid(conv3x3(zero, t, "wo.") + conv3x3(x, t, "uo."))
    np.testing.assert_allclose(got, o * np.maximum(c, 0), rtol=1e-5, atol=1e-6)


BOTTLENECK = ("[conv_lstm]\nbatch_normalize=1\nsize=3\npad=1\noutput=2\nbottleneck=1\n"
              "activation=leaky\n")


def bottleneck_step(x, t, peephole, lstm=np.tanh, act=leaky):
    """`forward_conv_lstm_layer_gpu` with bottleneck, one step from h = c = 0: wf over
    [h, x] then lstm_activation; gates from uf, ui, ug, uo over that (no w terms); the
    peephole vf, vi over the old c, vo over the new c. Returns (output, wf's output)."""
    h = c = np.zeros((x.shape[0], 2, *x.shape[2:]))
    hidden = lstm(conv3x3(np.concatenate([h, x], axis=1), t, "wf.", act))

    def peep(name, state):
        return conv3x3(state, t, name, act) if peephole else 0

    f = sigmoid(conv3x3(hidden, t, "uf.", act) + peep("vf.", c))
    i = sigmoid(conv3x3(hidden, t, "ui.", act) + peep("vi.", c))
    g = lstm(conv3x3(hidden, t, "ug.", act))
    c = f * c + i * g
    o = sigmoid(conv3x3(hidden, t, "uo.", act) + peep("vo.", c))
    return o * lstm(c), hidden


@pytest.mark.parametrize("peephole", [0, 1])
def test_conv_lstm_bottleneck_runs_darknets_gpu_formula_from_zero_state(tmp_path, peephole):
    got, x, t, _ = run(BOTTLENECK + f"peephole={peephole}\n", tmp_path, width=3, height=3,
                       channels=2)
    expected, _ = bottleneck_step(x, t, peephole)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # not the formula without bottleneck: uf..uo see wf's output, not the input
    plain = (sigmoid(conv3x3(x, t, "uo.", leaky)) * np.tanh(
        sigmoid(conv3x3(x, t, "ui.", leaky)) * np.tanh(conv3x3(x, t, "ug.", leaky))))
    assert not np.allclose(got, plain, atol=1e-3)


def test_conv_lstm_bottleneck_shortcut_adds_wf_to_the_first_half_of_the_output(tmp_path):
    got, x, t, network = run(BOTTLENECK.replace("output=2", "output=3") + "shortcut=1\n"
                       "lstm_activation=leaky\n", tmp_path, width=3, height=3, channels=3)
    h = c = np.zeros((2, 3, 3, 3))
    hidden = leaky(conv3x3(np.concatenate([h, x], axis=1), t, "wf.", leaky))
    f = sigmoid(conv3x3(hidden, t, "uf.", leaky))
    i = sigmoid(conv3x3(hidden, t, "ui.", leaky))
    c = f * c + i * leaky(conv3x3(hidden, t, "ug.", leaky))
    out = (sigmoid(conv3x3(hidden, t, "uo.", leaky)) * leaky(c)).reshape(2, -1)
    out[:, :13] += hidden.reshape(2, -1)[:, :13]  # l.outputs*l.batch/2 = 27/2 floats
    np.testing.assert_allclose(got.reshape(2, -1), out, rtol=1e-5, atol=1e-6)
    assert any("lstm_activation=leaky: computed here as the cfg asks, as Darknet's GPU build "
               "does" in m for m in messages(network, "warning"))


def test_conv_lstm_bottleneck_warns_what_the_cpu_build_does_at_its_line():
    network = build("[conv_lstm]\nsize=3\npad=1\noutput=2\nbottleneck=1\n", width=3,
                    height=3, channels=2)
    assert network.errors == [] and network.layers[0].runnable
    (warning,) = [d for d in network.diagnostics if d.severity == "warning"]
    assert warning.line == 10  # the bottleneck= line
    assert warning.message.startswith("[conv_lstm] bottleneck=1: computed as Darknet's GPU "
                                      "build runs it")
    assert "CPU build cannot run it" in warning.message
    assert "assert(wf.c == l.out_c)" in warning.message
    assert "dividing by zero in the wi layer" in warning.message


def test_conv_lstm_bottleneck_weights_follow_darknets_byte_layout(tmp_path):
    network = build(BOTTLENECK + "peephole=1\n", width=3, height=3, channels=2)
    _, _, path = loaded(network, tmp_path)
    # per conv: biases, scales, rolling mean and variance (2 each), then 2*in*3*3 weights;
    # vf vi vo over c (2 in), wf over [h, x] (4 in), uf ui ug uo over the input (2 in)
    floats = 3 * (8 + 2 * 2 * 9) + (8 + 2 * 4 * 9) + 4 * (8 + 2 * 2 * 9)
    assert path.stat().st_size == 20 + 4 * floats
    assert network.layers[0].weight_bytes == 4 * floats


def test_conv_lstm_bottleneck_needs_output_channels_in_its_input():
    network = build("[conv_lstm]\nsize=3\npad=1\noutput=3\nbottleneck=1\n", width=3,
                    height=3, channels=2)
    (error,) = messages(network, "error")
    assert "bottleneck=1 needs an input of output=3 channels, not 2" in error
    layer = network.layers[0]
    assert not layer.runnable and layer.weights  # the layout is still shown
    with pytest.raises(InspectorError, match="reading past its buffers"):
        outputs(DarknetModel(network), random_input(network))


@pytest.mark.parametrize("options", ["stride=2\npad=1\n", "pad=0\n",
                                     "stride=2\npad=1\nbottleneck=1\n"])
def test_conv_lstm_whose_convolutions_change_the_size_is_an_error_not_a_crash(options):
    network = build("[conv_lstm]\nsize=3\noutput=2\n" + options, width=5, height=5,
                    channels=2)
    (error,) = messages(network, "error")
    assert "turn 5x5 into 3x3" in error
    with pytest.raises(InspectorError, match="cfg line 7"):
        outputs(DarknetModel(network), random_input(network))
