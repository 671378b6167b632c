"""[shortcut]: multi-input sums and weighted sums (per_feature, per_channel; none, relu,
softmax normalisation) against a transcription of `shortcut_multilayer_cpu` with the
weights pre-normalized as `fuse_conv_batchnorm` does at inference, and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.core.layers.layer_support import (
    build,
    layout,
    loaded,
    opencv_output,
    outputs,
    random_input,
)

THREE = "".join("[convolutional]\nfilters=4\nsize=1\nactivation=linear\n\n" for _ in range(3))


def shortcut_weight(weights, src_i, i, n, step, layer_step, normalization):
    """The weight of input i (0 = the previous layer) at element src_i."""
    w = weights[src_i // step + i * layer_step]
    every = [weights[src_i // step + k * layer_step] for k in range(n + 1)]
    if normalization == "relu":  # fuse_conv_batchnorm's lrelu: max(w, 0.001)
        return max(w, 0.001) / (0.0001 + sum(max(v, 0.001) for v in every))
    if normalization == "softmax":
        top = max(every)
        return np.exp(w - top) / (0.0001 + sum(np.exp(v - top) for v in every))
    return w


def shortcut_multilayer(inp, adds, weights, normalization):
    """src/blas.c `shortcut_multilayer_cpu` for one sample, element by element."""
    size, n = inp.size, len(adds)
    layer_step = weights.size // (n + 1)
    step = size // layer_step
    inp, out = inp.ravel(), np.zeros(size)
    for src_i in range(size):
        def weight(i, src_i=src_i):
            return shortcut_weight(weights, src_i, i, n, step, layer_step, normalization)

        out[src_i] = inp[src_i] * weight(0)
        for i, add in enumerate(adds):
            add = add.ravel()
            if src_i < add.size:
                out[src_i] += add[src_i] * weight(i + 1)
    return out


def test_multi_input_shortcut_adds_every_from_layer(tmp_path):
    network = build(THREE + "[shortcut]\nfrom=0,1\nactivation=leaky\n")
    assert network.layers[3].inputs == (2, 0, 1)
    model, _, _ = loaded(network, tmp_path)
    a, b, c, got = outputs(model, random_input(network))
    y = c + a + b
    np.testing.assert_allclose(got, np.where(y > 0, y, 0.1 * y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, shape", [("per_feature", (3,)), ("per_channel", (3, 4))])
@pytest.mark.parametrize("normalization", ["none", "relu", "softmax"])
def test_weighted_shortcut_matches_shortcut_multilayer_cpu(tmp_path, kind, shape,
                                                          normalization):
    body = THREE + (f"[shortcut]\nfrom=0,1\nweights_type={kind}\n"
                    f"weights_normalization={normalization}\nactivation=linear\n")
    network = build(body)
    assert layout(network, 3) == [("weights", shape)]
    model, t, _ = loaded(network, tmp_path)
    a, b, c, got = outputs(model, random_input(network))
    want = shortcut_multilayer(c[0], [a[0], b[0]], t[(3, "weights")].ravel(),
                               normalization)
    np.testing.assert_allclose(got[0].ravel(), want, rtol=1e-5, atol=1e-6)


def test_relu_normalized_negative_weight_keeps_fuse_conv_batchnorm_floor(tmp_path):
    """Hand computation: weights (-0.219, 1.0) normalise to 0.001/1.0011 and 1/1.0011
    (`lrelu` in src/network.c), not 0 and 1/1.0001 (the training forward's relu)."""
    from darknet_inspector.core.torch_layers.shortcut import ShortcutModule

    network = build(THREE + "[shortcut]\nfrom=-2\nweights_type=per_feature\n"
                    "weights_normalization=relu\nactivation=linear\n")
    module = ShortcutModule(network.layers[3])
    with torch.no_grad():
        module.weights.copy_(torch.tensor([-0.219, 1.0]))
        x, add = torch.full((1, 4, 8, 8), 2.0), torch.full((1, 4, 8, 8), 3.0)
        got = module(x, add)
    want = (2.0 * 0.001 + 3.0 * 1.0) / (0.001 + 1.0 + 0.0001)
    torch.testing.assert_close(got, torch.full_like(got, want))


def test_shortcut_matches_opencv(tmp_path):
    body = THREE + "[shortcut]\nfrom=-3\nactivation=linear\n"
    network = build(body, width=6, height=5)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[-1]
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-5, atol=1e-6)
