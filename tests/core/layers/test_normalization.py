"""[normalization] / [lrn]: local response normalisation exactly as
`forward_normalization_layer` computes it, off-by-one window included."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.layers.normalization import NormalizationParams
from tests.core.layers.layer_support import build, loaded, messages, outputs, random_input


def lrn_reference(x: np.ndarray, size: int, alpha: float, beta: float,
                  kappa: float) -> np.ndarray:
    """A line-by-line transcription of the CPU forward for one sample (c, h, w)."""
    c = x.shape[0]
    squared = x.astype(np.float64) ** 2
    norms = np.empty_like(squared)
    norms[0] = kappa
    for k in range(size // 2):
        norms[0] += alpha * squared[k]
    for k in range(1, c):
        norms[k] = norms[k - 1]
        prev = k - ((size - 1) // 2) - 1
        nxt = k + (size // 2)
        if prev >= 0:
            norms[k] -= alpha * squared[prev]
        if nxt < c:
            norms[k] += alpha * squared[nxt]
    return x * norms ** -beta


@pytest.mark.parametrize("name, size", [("lrn", 5), ("normalization", 3), ("lrn", 4)])
def test_lrn_matches_darknets_running_window(tmp_path, name, size):
    body = f"[{name}]\nsize={size}\nalpha=0.1\nbeta=0.75\nkappa=2\n"
    network = build(body, channels=7, width=3, height=2)
    assert network.layers[0].type == "normalization"
    assert network.layers[0].output_shape == (7, 2, 3)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network) * 3
    np.testing.assert_allclose(outputs(model, x)[0][0],
                               lrn_reference(x[0], size, 0.1, 0.75, 2.0), rtol=1e-5)


def test_lrn_defaults(tmp_path):
    network = build("[lrn]\n", channels=6)
    assert network.layers[0].params == NormalizationParams(alpha=0.0001, beta=0.75,
                                                           kappa=1.0, size=5, channels=6)


def test_lrn_window_wider_than_the_channels_is_not_run():
    network = build("[lrn]\nsize=9\n", channels=3)
    assert not network.layers[0].runnable
    assert messages(network, "warning")
