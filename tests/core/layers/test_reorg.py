"""[reorg] (Darknet's REORG_OLD) and [reorg3d] (REORG): shapes both ways, and every
element where Darknet's `reorg_cpu` puts it, checked against a literal per-element
transcription and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
)


def reorg_cpu_loop(x: np.ndarray, w: int, h: int, c: int, stride: int, forward: bool,
                   out_size: int) -> np.ndarray:
    """src/blas.c `reorg_cpu` for one sample, one element at a time."""
    out = np.zeros(out_size, dtype=x.dtype)
    in_c = c // (stride * stride)
    for k in range(c):
        for j in range(h):
            for i in range(w):
                in_index = i + w * (j + h * k)
                c2 = k % in_c
                offset = k // in_c
                w2 = i * stride + offset % stride
                h2 = j * stride + offset // stride
                out_index = w2 + w * stride * (h2 + h * stride * c2)
                if forward:
                    out[out_index] = x[in_index]
                else:
                    out[in_index] = x[out_index]
    return out


def net(kind: str, stride: int = 2, reverse: int = 0, channels: int = 8, size: int = 4):
    body = f"[{kind}]\nstride={stride}\nreverse={reverse}\n"
    return build(body, width=size, height=size, channels=channels)


@pytest.mark.parametrize("kind, reverse, expected", [
    ("reorg", 0, (32, 2, 2)), ("reorg", 1, (2, 8, 8)),
    ("reorg3d", 0, (32, 2, 2)), ("reorg3d", 1, (2, 8, 8))])
def test_reorg_output_shapes(kind, reverse, expected):
    network = net(kind, reverse=reverse)
    assert network.layers[0].output_shape == expected
    assert network.layers[0].weights == ()


@pytest.mark.parametrize("kind, reverse", [("reorg", 0), ("reorg", 1), ("reorg3d", 0)])
def test_reorg_moves_every_element_as_reorg_cpu(tmp_path, kind, reverse):
    network = net(kind, reverse=reverse)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0].ravel()
    c, h, w = network.input_shape
    out = network.layers[0].output_shape
    if kind == "reorg":  # forward_reorg_old_layer: the input's w, h, c
        expected = reorg_cpu_loop(x.ravel(), w, h, c, 2, bool(reverse), got.size)
    else:  # forward_reorg_layer: the output's w, h, c
        expected = reorg_cpu_loop(x.ravel(), out[2], out[1], out[0], 2, bool(reverse),
                                  got.size)
    np.testing.assert_array_equal(got, expected)


def test_reorg3d_reverse_follows_reorg_cpu_on_the_output_sizes(tmp_path):
    network = net("reorg3d", reverse=1, channels=16)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0].ravel()
    oc, oh, ow = network.layers[0].output_shape
    np.testing.assert_array_equal(got, reorg_cpu_loop(x.ravel(), ow, oh, oc, 2, True, got.size))


def test_reorg3d_is_space_to_depth_with_the_offset_as_the_channel_block(tmp_path):
    network = net("reorg3d")
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)[0]
    got = outputs(model, x[None])[0][0]
    for offset in range(4):
        dy, dx = divmod(offset, 2)
        np.testing.assert_array_equal(got[offset * 8:(offset + 1) * 8], x[:, dy::2, dx::2])


def test_reorg_reverse_undoes_reorg3d(tmp_path):
    network = build("[reorg3d]\nstride=2\n\n[reorg]\nstride=2\nreverse=1\n", width=4,
                    height=4, channels=8)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_array_equal(outputs(model, x)[1], x)


def test_reorg_matches_opencv_on_a_yolov2_passthrough(tmp_path):
    body = ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
            "[reorg]\nstride=2\n")
    network = build(body, width=8, height=8, channels=3)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[1]
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-5, atol=1e-6)


def test_reorg_with_channels_not_a_multiple_of_stride_squared_is_not_run():
    network = net("reorg", channels=6)
    assert not network.layers[0].runnable
    assert any("not a multiple of stride^2" in m for m in messages(network, "warning"))
