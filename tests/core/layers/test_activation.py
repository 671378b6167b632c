"""[activation]: `activate_array` on the previous output, including the activations that
function does not know (Darknet outputs 0 for them)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.layers.layer_support import build, loaded, messages, outputs, random_input


@pytest.mark.parametrize("name, fn", [
    ("leaky", lambda x: np.where(x > 0, x, 0.1 * x)),
    ("tanh", np.tanh),
    ("relie", lambda x: np.where(x > 0, x, 0.01 * x)),
    ("linear", lambda x: x),
])
def test_activation_layer_applies_the_function(tmp_path, name, fn):
    network = build(f"[activation]\nactivation={name}\n")
    assert network.layers[0].output_shape == (3, 8, 8)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_allclose(outputs(model, x)[0], fn(x), rtol=1e-5, atol=1e-6)


def test_activation_default_is_linear(tmp_path):
    network = build("[activation]\n")
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_array_equal(outputs(model, x)[0], x)


@pytest.mark.parametrize("name", ["mish", "swish", "normalize_channels"])
def test_activation_darknet_cannot_apply_gives_zeros_and_a_warning(tmp_path, name):
    network = build(f"[activation]\nactivation={name}\n")
    (warning,) = messages(network, "warning")
    assert f"activation={name}" in warning and "outputs 0" in warning
    model, _, _ = loaded(network, tmp_path)
    assert not outputs(model, random_input(network))[0].any()


SE_RELU6 = ("[convolutional]\nfilters=4\nsize=1\nactivation=relu6\n\n[avgpool]\n\n"
            "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n\n"
            "[scale_channels]\nfrom=-3\nactivation=relu6\n")


def test_scale_channels_relu6_is_computed_not_zero(tmp_path):
    """Hand computation: scale_channels output = clamp(from * scale, 0, 6)."""
    network = build(SE_RELU6)
    model, _, _ = loaded(network, tmp_path)
    x = 20.0 * random_input(network)
    first, _, scale, got = outputs(model, x)
    want = np.clip(first * scale, 0.0, 6.0)
    assert want.max() == 6.0 and want.min() == 0.0 and (want > 0).any()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_relu6_warns_once_per_cfg_with_every_line_about_alexeyab_cpu():
    network = build(SE_RELU6)
    relu6 = [m for m in messages(network, "warning") if "relu6" in m]
    assert relu6 == [relu6[0]] and "lines 9, 20" in relu6[0] and "CPU" in relu6[0]
    assert "outputs 0" in relu6[0]
    (diagnostic,) = [d for d in network.diagnostics if "relu6" in d.message]
    assert (diagnostic.layer, diagnostic.line) == (0, 9)


def test_activation_layer_relu6_clamps(tmp_path):
    network = build("[activation]\nactivation=relu6\n")
    model, _, _ = loaded(network, tmp_path)
    x = 4.0 * random_input(network)
    np.testing.assert_array_equal(outputs(model, x)[0], np.clip(x, 0.0, 6.0))
