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


@pytest.mark.parametrize("name", ["mish", "swish", "relu6", "normalize_channels"])
def test_activation_darknet_cannot_apply_gives_zeros_and_a_warning(tmp_path, name):
    network = build(f"[activation]\nactivation={name}\n")
    (warning,) = messages(network, "warning")
    assert f"activation={name}" in warning and "outputs 0" in warning
    model, _, _ = loaded(network, tmp_path)
    assert not outputs(model, random_input(network))[0].any()
