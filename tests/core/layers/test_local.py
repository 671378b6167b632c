"""[local]: one weight set per output location; sizes, layout and the forward pass
against a per-element reference."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.errors import InspectorError
from tests.core.layers.layer_support import build, layout, loaded, messages, outputs, random_input


def local_reference(x, weights, biases, size, stride, pad, out_h, out_w):
    """`forward_local_layer` with `im2col_cpu` padding by the pad flag, per element."""
    c, h, w = x.shape
    n = biases.shape[0]
    out = biases.astype(np.float64).copy()
    for oy in range(out_h):
        for ox in range(out_w):
            location = oy * out_w + ox
            for f in range(n):
                total = 0.0
                for ch in range(c):
                    for ky in range(size):
                        for kx in range(size):
                            y, xx = oy * stride + ky - pad, ox * stride + kx - pad
                            if 0 <= y < h and 0 <= xx < w:
                                total += weights[location, f, ch, ky, kx] * x[ch, y, xx]
                out[f, oy, ox] += total
    return out


@pytest.mark.parametrize("pad, stride, expected", [(0, 1, (3, 4, 5)), (1, 2, (3, 3, 4)),
                                                   (1, 1, (3, 6, 7))])
def test_local_shapes_layout_and_forward(tmp_path, pad, stride, expected):
    body = (f"[local]\nfilters=3\nsize=3\nstride={stride}\npad={pad}\n"
            "activation=linear\n")
    network = build(body, width=7, height=6, channels=2)
    layer = network.layers[0]
    assert layer.output_shape == expected
    n, oh, ow = expected
    assert layout(network, 0) == [("biases", (n, oh, ow)), ("weights", (oh * ow, n, 2, 3, 3))]
    model, t, _ = loaded(network, tmp_path)
    x = random_input(network)
    want = local_reference(x[0], t[(0, "weights")], t[(0, "biases")], 3, stride, pad, oh, ow)
    np.testing.assert_allclose(outputs(model, x)[0][0], want, rtol=1e-5, atol=1e-5)


def test_local_pad_with_a_non_3x3_window_is_not_run():
    network = build("[local]\nfilters=2\nsize=5\npad=1\n", width=7, height=7)
    assert not network.layers[0].runnable
    assert any("do not line up" in m for m in messages(network, "warning"))


def test_a_local_layer_that_is_not_run_still_loads_and_refuses(tmp_path):
    network = build("[local]\nfilters=2\nsize=5\npad=1\n", width=7, height=7)
    model, tensors, _ = loaded(network, tmp_path)
    np.testing.assert_array_equal(model.layers[0].weights.numpy(), tensors[(0, "weights")])
    with pytest.raises(InspectorError, match="not runnable"):
        outputs(model, random_input(network))
