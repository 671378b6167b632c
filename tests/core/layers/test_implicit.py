"""[implicit]: a learned (filters, atoms, 1) tensor, `filters*atoms` weights, the same
output for every sample whatever the input."""

from __future__ import annotations

import numpy as np

from tests.core.layers.layer_support import build, layout, loaded, outputs, random_input


def test_implicit_defaults_and_layout():
    network = build("[implicit]\n")
    assert network.layers[0].output_shape == (128, 1, 1)
    assert layout(network, 0) == [("weights", (128, 1, 1))]


def test_implicit_outputs_its_weights_for_every_sample(tmp_path):
    network = build("[implicit]\nfilters=4\natoms=3\nmean=0\nstd=.02\n")
    assert network.diagnostics == []
    assert network.layers[0].output_shape == (4, 3, 1)
    model, t, _ = loaded(network, tmp_path)
    got = outputs(model, random_input(network, batch=2))[0]
    np.testing.assert_array_equal(got, np.stack([t[(0, "weights")]] * 2))
