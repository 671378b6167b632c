"""[maxpool], [local_avgpool], [avgpool]: sizes with Darknet's default padding and the
forward passes against per-element transcriptions of src/maxpool_layer.c, and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.layers.pooling import PoolParams
from tests.core.layers.layer_support import (
    build,
    loaded,
    opencv_output,
    outputs,
    random_input,
)


def window_pool(x, size, stride_x, stride_y, padding, out_h, out_w, average):
    """`forward_maxpool_layer` / `forward_local_avgpool_layer`: windows start at
    -padding/2; outside cells are -FLT_MAX for max and skipped for the average."""
    c, h, w = x.shape
    out = np.zeros((c, out_h, out_w))
    for k in range(c):
        for i in range(out_h):
            for j in range(out_w):
                values = []
                for n in range(size):
                    for m in range(size):
                        cur_h = -(padding // 2) + i * stride_y + n
                        cur_w = -(padding // 2) + j * stride_x + m
                        if 0 <= cur_h < h and 0 <= cur_w < w:
                            values.append(x[k, cur_h, cur_w])
                out[k, i, j] = np.mean(values) if average else max(values)
    return out


@pytest.mark.parametrize("kind", ["maxpool", "local_avgpool"])
@pytest.mark.parametrize("options, expected_hw, padding", [
    ("size=2\nstride=1\n", (13, 13), 1),
    ("size=2\nstride=2\n", (7, 7), 1),
    ("size=3\nstride=2\npadding=2\n", (7, 7), 2),
    ("size=3\nstride_x=2\nstride_y=1\n", (13, 7), 2),
    ("stride=2\n", (7, 7), 1),
])
def test_window_pools_match_darknet(tmp_path, kind, options, expected_hw, padding):
    network = build(f"[{kind}]\n{options}", width=13, height=13, channels=2)
    layer = network.layers[0]
    assert layer.output_shape == (2, *expected_hw)
    g = layer.params_as(PoolParams)
    assert g.padding == padding
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    want = window_pool(x[0], g.size, g.stride_x, g.stride_y, padding,
                       *expected_hw, kind == "local_avgpool")
    np.testing.assert_allclose(outputs(model, x)[0][0], want, rtol=1e-6, atol=1e-6)


def test_local_avg_alias():
    assert build("[local_avg]\nsize=2\nstride=2\n").layers[0].type == "local_avgpool"


def test_maxpool_depth_takes_the_max_over_every_out_channels_th_channel(tmp_path):
    network = build("[maxpool]\nmaxpool_depth=1\nout_channels=3\nsize=1\nstride=1\n",
                    channels=7)
    assert network.layers[0].output_shape == (3, 8, 8)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0][0]
    for g in range(3):
        np.testing.assert_array_equal(got[g], x[0, g::3].max(axis=0))


def test_global_avgpool(tmp_path):
    network = build("[avgpool]\n", channels=5)
    assert network.layers[0].output_shape == (5, 1, 1)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_allclose(outputs(model, x)[0][0, :, 0, 0], x[0].mean(axis=(1, 2)),
                               rtol=1e-5)


@pytest.mark.parametrize("options", ["size=2\nstride=2\n", "size=3\nstride=2\n",
                                     "size=2\nstride=1\n"])
def test_maxpool_matches_opencv(tmp_path, options):
    body = f"[convolutional]\nfilters=4\nsize=1\nactivation=linear\n\n[maxpool]\n{options}"
    network = build(body, width=13, height=13)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[1]
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-6, atol=1e-6)


def test_maxpool_antialiasing_pools_at_stride_1_then_blurs(tmp_path):
    """make_maxpool_layer: 2x2 maxpool at stride 1 (padding 1: 6x6 -> 6x6), then the
    3x3 (1 2 1)/16 blur padded by 1 at stride 2 -> 3x3."""
    import torch
    import torch.nn.functional as F

    network = build("[maxpool]\nsize=2\nstride=2\nantialiasing=1\n", width=6, height=6)
    assert network.layers[0].output_shape == (3, 3, 3) and network.layers[0].runnable
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    padded = np.pad(x[0], ((0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
    host = np.max([padded[:, i:i + 6, j:j + 6] for i in (0, 1) for j in (0, 1)], axis=0)
    kernel = torch.tensor(np.outer([1, 2, 1], [1, 2, 1]) / 16.0, dtype=torch.float32)
    want = F.conv2d(torch.from_numpy(host)[None], kernel.expand(3, 1, 3, 3), None, 2, 1,
                    1, 3)[0].numpy()
    np.testing.assert_allclose(outputs(model, x)[0][0], want, rtol=1e-5, atol=1e-6)
