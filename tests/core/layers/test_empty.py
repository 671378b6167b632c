"""[empty] and its alias [silence]: the identity, storing nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.layers.layer_support import build, loaded, outputs, random_input


@pytest.mark.parametrize("name", ["empty", "silence"])
def test_empty_and_silence_pass_the_input_through(tmp_path, name):
    network = build(f"[{name}]\n")
    layer = network.layers[0]
    assert (layer.type, layer.output_shape, layer.weights) == ("empty", (3, 8, 8), ())
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_array_equal(outputs(model, x)[0], x)
