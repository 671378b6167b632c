"""[connected]: flat output, weight order and byte count, transposed files, the forward
pass against numpy and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.weights import FLOAT, WeightsHeader
from tests.core.layers.layer_support import (
    build,
    layout,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
    sigmoid,
)

CONV = "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n\n"


def test_connected_flattens_chw_and_outputs_a_flat_vector():
    network = build(CONV + "[connected]\noutput=7\nactivation=linear\n")
    layer = network.layers[1]
    assert layer.input_shape == (4, 4, 4)
    assert layer.output_shape == (7,)
    assert layout(network, 1) == [("biases", (7,)), ("weights", (7, 64))]
    assert layer.weight_bytes == 4 * (7 + 7 * 64)


def test_connected_with_batch_normalize_reads_bn_after_the_weights():
    network = build("[connected]\noutput=5\nbatch_normalize=1\n")
    assert [name for name, _ in layout(network, 0)] == [
        "biases", "weights", "scales", "rolling_mean", "rolling_variance"]
    assert network.layers[0].param_count == 5 + 5 * 192 + 3 * 5


def test_connected_dontloadscales_reads_no_bn_tensors():
    network = build("[connected]\noutput=5\nbatch_normalize=1\ndontloadscales=1\n")
    assert [name for name, _ in layout(network, 0)] == ["biases", "weights"]


def test_connected_default_activation_is_logistic(tmp_path):
    network = build("[connected]\noutput=3\n")
    model, tensors, _ = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0]
    w, b = tensors[(0, "weights")], tensors[(0, "biases")]
    np.testing.assert_allclose(got, sigmoid(x.reshape(1, -1) @ w.T + b), rtol=1e-5, atol=1e-6)


def test_connected_bn_forward_matches_darknet_order(tmp_path):
    network = build(CONV + "[connected]\noutput=6\nbatch_normalize=1\nactivation=leaky\n")
    model, t, _ = loaded(network, tmp_path)
    x = random_input(network)
    conv_out, got = outputs(model, x)
    y = conv_out.reshape(1, -1) @ t[(1, "weights")].T
    y = (y - t[(1, "rolling_mean")]) / np.sqrt(t[(1, "rolling_variance")] + 1e-5)
    y = y * t[(1, "scales")] + t[(1, "biases")]
    np.testing.assert_allclose(got, np.where(y > 0, y, 0.1 * y), rtol=1e-5, atol=1e-5)


def test_transposed_header_stores_weights_inputs_major_and_loads_the_same_model(tmp_path):
    network = build("[connected]\noutput=3\nactivation=linear\n", width=2, height=2,
                    channels=1)
    plain_dir, flipped_dir = tmp_path / "plain", tmp_path / "flipped"
    plain_dir.mkdir()
    flipped_dir.mkdir()
    plain, tensors, _ = loaded(network, plain_dir)
    header = WeightsHeader(major=0, minor=1001, revision=0)
    flipped, _, path = loaded(network, flipped_dir, header=header)
    stored = np.frombuffer(path.read_bytes(), FLOAT, offset=header.size)
    weights = tensors[(0, "weights")]
    np.testing.assert_array_equal(stored[3:], weights.T.ravel())
    x = random_input(network)
    np.testing.assert_allclose(outputs(flipped, x)[0], outputs(plain, x)[0], rtol=1e-6)


def test_connected_mish_is_zero_in_darknet_and_warned(tmp_path):
    network = build("[connected]\noutput=3\nactivation=mish\n")
    assert any("outputs 0 everywhere" in m for m in messages(network, "warning"))
    model, _, _ = loaded(network, tmp_path)
    assert not outputs(model, random_input(network))[0].any()


@pytest.mark.parametrize("activation", ["linear", "leaky", "logistic"])
def test_connected_matches_opencv(tmp_path, activation):
    network = build(CONV + f"[connected]\noutput=9\nactivation={activation}\n",
                    width=16, height=16)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[-1]
    theirs = opencv_output(network, tmp_path, path, x).reshape(ours.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
