"""[convolutional]: the forward pass against a per-element transcription of Darknet's
im2col + gemm (padding, strides, groups, dilation, BN) and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from tests.core.layers.layer_support import (
    build,
    layout,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
    sigmoid,
)


def darknet_conv(x, weights, biases, stride_x, stride_y, padding, dilation, groups,
                 out_h, out_w):
    """`forward_convolutional_layer` + `im2col_cpu_ext` for one sample: the window of
    output (oy, ox) starts at oy*stride_y - padding*dilation and steps by dilation."""
    c, h, w = x.shape
    n, cg, size, _ = weights.shape
    out = np.zeros((n, out_h, out_w))
    per_group = n // groups
    for f in range(n):
        g = f // per_group
        for oy in range(out_h):
            for ox in range(out_w):
                total = 0.0
                for ch in range(cg):
                    for ky in range(size):
                        for kx in range(size):
                            y = oy * stride_y - padding * dilation + ky * dilation
                            xx = ox * stride_x - padding * dilation + kx * dilation
                            if 0 <= y < h and 0 <= xx < w:
                                total += weights[f, ch, ky, kx] * x[g * cg + ch, y, xx]
                out[f, oy, ox] = total + biases[f]
    return out


def run(tmp_path, body, channels=4, width=7, height=6):
    network = build(body, width=width, height=height, channels=channels)
    model, t, path = loaded(network, tmp_path)
    x = random_input(network)
    return network, t, x, outputs(model, x)[0][0], path


@pytest.mark.parametrize("options, expected_shape", [
    ("size=3\nstride=1\npad=1\n", (6, 6, 7)),
    ("size=3\nstride_x=2\nstride_y=1\npad=1\n", (6, 6, 4)),
    ("size=3\nstride_x=1\nstride_y=2\npadding=0\n", (6, 2, 5)),
    ("size=3\nstride=1\npad=1\ngroups=2\n", (6, 6, 7)),
    ("size=3\nstride=2\npad=1\ndilation=2\n", (6, 3, 4)),
    ("size=3\nstride=1\npad=1\ndilation=3\n", (6, 6, 7)),
])
def test_convolution_matches_darknets_im2col(tmp_path, options, expected_shape):
    body = f"[convolutional]\nfilters=6\n{options}activation=linear\n"
    network, t, x, got, _ = run(tmp_path, body)
    layer = network.layers[0]
    assert layer.output_shape == expected_shape
    p = layer.params_as(ConvolutionalParams)
    want = darknet_conv(x[0], t[(0, "weights")], t[(0, "biases")], p.stride_x, p.stride_y,
                        p.padding, p.dilation, p.groups, *expected_shape[1:])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_depthwise_convolution_uses_one_input_channel_per_filter(tmp_path):
    body = "[convolutional]\nfilters=4\ngroups=4\nsize=3\npad=1\nactivation=linear\n"
    network, t, x, got, _ = run(tmp_path, body)
    assert layout(network, 0) == [("biases", (4,)), ("weights", (4, 1, 3, 3))]
    want = darknet_conv(x[0], t[(0, "weights")], t[(0, "biases")], 1, 1, 1, 1, 4, 6, 7)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dilation_keeps_the_undilated_output_size():
    network = build("[convolutional]\nfilters=2\nsize=3\npad=1\ndilation=2\n")
    assert network.layers[0].output_shape == (2, 8, 8)


def test_batch_normalized_conv_with_default_logistic(tmp_path):
    body = "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=1\n"
    network, t, x, got, _ = run(tmp_path, body)
    assert [name for name, _ in layout(network, 0)] == [
        "biases", "scales", "rolling_mean", "rolling_variance", "weights"]
    y = np.einsum("fc,chw->fhw", t[(0, "weights")][:, :, 0, 0], x[0])
    view = (3, 1, 1)
    y = (y - t[(0, "rolling_mean")].reshape(view)) / np.sqrt(
        t[(0, "rolling_variance")].reshape(view) + 1e-5)
    y = y * t[(0, "scales")].reshape(view) + t[(0, "biases")].reshape(view)
    np.testing.assert_allclose(got, sigmoid(y), rtol=1e-5, atol=1e-6)


def test_dilation_whose_window_does_not_fit_darknets_output_is_not_run():
    network = build("[convolutional]\nfilters=2\nsize=3\npadding=0\ndilation=2\n")
    assert not network.layers[0].runnable
    assert any("dilation=2" in m for m in messages(network, "warning"))


@pytest.mark.parametrize("options", ["size=3\nstride=2\npad=1\nactivation=leaky\n",
                                     "size=3\npad=1\ngroups=2\nactivation=linear\n",
                                     "size=1\nbatch_normalize=1\nactivation=logistic\n"])
def test_convolution_matches_opencv(tmp_path, options):
    body = f"[convolutional]\nfilters=6\n{options}"
    network, _, x, got, path = run(tmp_path, body, width=10, height=9)
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(got, theirs.reshape(got.shape), rtol=1e-4, atol=1e-5)


def test_a_conv_that_is_not_run_refuses_instead_of_computing(tmp_path):
    network = build("[convolutional]\nfilters=2\nsize=3\npadding=0\ndilation=2\n")
    model, _, _ = loaded(network, tmp_path)
    with pytest.raises(InspectorError, match="not runnable in this tool"):
        outputs(model, random_input(network))


SHARE_WIDER = ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
               "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
               "[convolutional]\nfilters=8\nsize=3\npad=1\nshare_index=0\nactivation=leaky\n")


def test_share_index_onto_a_layer_with_other_input_channels_is_a_cfg_error_at_its_line():
    """Layer 0 reads 3 channels, layer 2 reads 8: Darknet's make_convolutional_layer stops."""
    network = build(SHARE_WIDER)
    (error,) = network.errors
    assert (error.layer, error.line) == (2, 22)
    assert "layer 0" in error.message and "3 input channels" in error.message
    assert "8 input channels" in error.message and not network.complete


@pytest.mark.parametrize("other", ["filters=4\nsize=3", "filters=8\nsize=1"])
def test_share_index_onto_other_filters_or_size_is_a_cfg_error(other):
    network = build("[convolutional]\nfilters=8\nsize=3\npad=1\n\n"
                    f"[convolutional]\n{other}\npad=1\nshare_index=-1\n")
    assert [e.layer for e in network.errors] == [1]


def test_share_index_follows_the_shared_layers_batch_norm(tmp_path):
    """fuse_conv_batchnorm folds layer 0's BN into the shared tensors and clears layer
    1's own flag: layer 1 (no batch_normalize) computes layer 0's conv + BN on its input."""
    network = build("[convolutional]\nfilters=3\nsize=1\nbatch_normalize=1\n"
                    "activation=linear\n\n"
                    "[convolutional]\nfilters=3\nsize=1\nshare_index=-1\nactivation=linear\n",
                    channels=3)
    model, t, _ = loaded(network, tmp_path)
    x = random_input(network)

    def conv_bn(v):
        y = np.einsum("fc,chw->fhw", t[(0, "weights")][:, :, 0, 0], v)
        view = (3, 1, 1)
        y = (y - t[(0, "rolling_mean")].reshape(view)) / np.sqrt(
            t[(0, "rolling_variance")].reshape(view) + 1e-5)
        return y * t[(0, "scales")].reshape(view) + t[(0, "biases")].reshape(view)

    first, second = outputs(model, x)
    np.testing.assert_allclose(second[0], conv_bn(conv_bn(x[0])), rtol=1e-4, atol=1e-5)
    first, fused = outputs(model.fuse(), x)
    np.testing.assert_allclose(fused[0], conv_bn(conv_bn(x[0])), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("share", [False, True])
def test_folding_in_place_gives_the_same_bits_as_folding_into_new_tensors(tmp_path, share):
    """`fuse(in_place=True)` (detect and convert fold the weights they just read) changes
    nothing but where the folded values live; tensors shared by share_index are never
    overwritten, so the layer sharing them still folds them once."""
    sharer = "[convolutional]\nfilters=3\nsize=1\nshare_index=-1\nactivation=linear\n"
    network = build("[convolutional]\nfilters=3\nsize=1\nbatch_normalize=1\n"
                    "activation=leaky\n\n" + (sharer if share else ""), channels=3)
    x = random_input(network)
    copied, _, _ = loaded(network, tmp_path)
    in_place, _, _ = loaded(network, tmp_path)  # the same file read again
    unfolded = outputs(in_place, x)
    before = in_place.layers[0].weights
    for (key, a), b in zip(copied.fuse().darknet_tensors().items(),
                           in_place.fuse(in_place=True).darknet_tensors().values()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), key
    assert (in_place.layers[0].weights is before) is not share  # overwritten unless shared
    for a, b, c in zip(outputs(copied, x), outputs(in_place, x), unfolded):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, c, rtol=1e-5, atol=1e-5)


def darknet_blur(y, kernel, pad, stride):
    """The antialiasing blur by hand: every channel, zero padding, the layer's stride."""
    c, h, w = y.shape
    k = kernel.shape[0]
    padded = np.zeros((c, h + 2 * pad, w + 2 * pad), y.dtype)
    padded[:, pad:pad + h, pad:pad + w] = y
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.zeros((c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, i, j] = (window * kernel).sum(axis=(1, 2))
    return out


@pytest.mark.parametrize("level, kernel, pad, shape", [
    (1, np.outer([1, 2, 1], [1, 2, 1]) / 16.0, 1, (2, 4, 4)),
    (2, np.full((2, 2), 0.25), 0, (2, 3, 3)),
])
def test_antialiasing_runs_a_stride_1_conv_then_darknets_blur(tmp_path, level, kernel, pad,
                                                              shape):
    """make_convolutional_layer: the host conv at stride 1 (leaky applied there), then a
    linear depthwise blur at stride 2 (1 2 1 / 16 kernel padded by 1, or 2x2 of 1/4)."""
    network = build("[convolutional]\nfilters=2\nsize=1\nstride=2\nactivation=leaky\n"
                    f"antialiasing={level}\n", width=7, height=7)
    assert network.layers[0].runnable and network.layers[0].output_shape == shape
    model, t, _ = loaded(network, tmp_path)
    x = random_input(network)
    host = np.einsum("fc,chw->fhw", t[(0, "weights")][:, :, 0, 0], x[0]) + \
        t[(0, "biases")][:, None, None]
    host = np.where(host > 0, host, 0.1 * host)
    (got,) = outputs(model, x)
    np.testing.assert_allclose(got[0], darknet_blur(host, kernel, pad, 2), rtol=1e-5,
                               atol=1e-6)


def test_antialiasing_blur_size_reaching_a_route_is_warned():
    network = build("[convolutional]\nfilters=2\nsize=1\nstride=2\nantialiasing=2\n",
                    width=7, height=7)
    assert any("7x7" in m and "3x3" in m for m in messages(network, "warning"))
