"""[batchnorm]: four tensors per channel in `load_batchnorm_weights` order and the
inference normalisation."""

from __future__ import annotations

import numpy as np

from tests.core.layers.layer_support import build, layout, loaded, outputs, random_input

BODY = "[convolutional]\nfilters=5\nsize=1\nactivation=linear\n\n[batchnorm]\n"


def test_batchnorm_reads_biases_scales_mean_variance():
    network = build(BODY)
    assert layout(network, 1) == [("biases", (5,)), ("scales", (5,)),
                                  ("rolling_mean", (5,)), ("rolling_variance", (5,))]
    assert network.layers[1].weight_bytes == 4 * 4 * 5
    assert network.layers[1].output_shape == (5, 8, 8)


def test_batchnorm_ignores_dontloadscales_as_darknet_does():
    network = build(BODY + "dontloadscales=1\n")
    assert len(layout(network, 1)) == 4


def test_batchnorm_normalises_with_rolling_statistics(tmp_path):
    network = build(BODY)
    model, t, _ = loaded(network, tmp_path)
    x, got = outputs(model, random_input(network))
    view = (1, 5, 1, 1)
    mean, var = t[(1, "rolling_mean")].reshape(view), t[(1, "rolling_variance")].reshape(view)
    scale, bias = t[(1, "scales")].reshape(view), t[(1, "biases")].reshape(view)
    np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-5) * scale + bias,
                               rtol=1e-5, atol=1e-6)
