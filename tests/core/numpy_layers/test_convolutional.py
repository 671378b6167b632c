"""core.numpy_layers.convolutional against the torch ConvModule: every geometry option,
batch norm folding, share_index, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.numpy_layers.convolutional import folded_conv
from tests.core.numpy_layers.parity import matches_torch


def conv(extra: str, filters: int = 8, size: int = 3, activation: str = "leaky") -> str:
    return (f"[convolutional]\nbatch_normalize=1\nfilters={filters}\nsize={size}\n"
            f"activation={activation}\n{extra}")


@pytest.mark.parametrize("extra", [
    "stride=1\npad=1\n", "stride=2\npad=1\n", "stride=1\npad=0\n", "stride=2\npadding=2\n",
    "stride_x=2\nstride_y=1\npad=1\n", "stride_x=1\nstride_y=3\npad=1\n",
])
def test_strides_and_padding_equal_torch(tmp_path, extra):
    matches_torch(conv(extra), tmp_path, width=13, height=11)


def test_a_1x1_conv_without_batch_norm_equals_torch(tmp_path):
    matches_torch("[convolutional]\nfilters=5\nsize=1\nactivation=linear\n", tmp_path)


def test_groups_equal_torch(tmp_path):
    matches_torch("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
                  + conv("groups=2\npad=1\n", filters=6), tmp_path)


def test_depthwise_equals_torch(tmp_path):
    """groups = channels (yolo-fastest's depthwise convs), and a channel multiplier."""
    matches_torch("[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n\n"
                  + conv("groups=8\npad=1\nstride=2\n", filters=8) + "\n"
                  + conv("groups=8\npad=1\n", filters=16), tmp_path, width=14, height=14)


@pytest.mark.parametrize("dilation", [2, 3])
def test_dilation_equals_torch(tmp_path, dilation):
    matches_torch(conv(f"pad=1\ndilation={dilation}\n"), tmp_path, width=16, height=16)


def test_share_index_uses_the_shared_layers_folded_tensors(tmp_path):
    """`share_index`: the shared layer's weights and batch norm, whatever this one says."""
    matches_torch(conv("pad=1\n", filters=3) + "\n[convolutional]\nfilters=3\nsize=3\npad=1\n"
                  "share_index=0\nactivation=mish\n", tmp_path)


def test_flipped_weights_equal_torch(tmp_path):
    matches_torch(conv("pad=1\nflipped=1\n"), tmp_path)


@pytest.mark.parametrize("activation", ["linear", "leaky", "relu", "logistic", "mish",
                                        "swish", "tanh", "relu6", "hard_mish", "elu", "selu",
                                        "gelu", "loggy", "relie", "ramp", "hardtan",
                                        "revleaky"])
def test_each_activation_in_a_conv_equals_torch(tmp_path, activation):
    matches_torch(conv("pad=1\n", activation=activation), tmp_path)


def test_folding_follows_fuse_conv_batchnorm():
    """weights * scale/sqrt(var + 1e-5) per filter, biases - factor*mean, laid out
    (n, k, k, c) for an (H, W, C) input."""
    rng = np.random.default_rng(0)
    tensors = {"weights": rng.normal(size=(2, 3, 3, 3)).astype(np.float32),
               "biases": np.array([0.5, -1], np.float32),
               "scales": np.array([2, 3], np.float32),
               "rolling_mean": np.array([1, 2], np.float32),
               "rolling_variance": np.array([4 - 1e-5, 9 - 1e-5], np.float32)}
    weights, biases = folded_conv(tensors)
    np.testing.assert_allclose(weights[1, 2, 0, 1], tensors["weights"][1, 1, 2, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(weights[0], tensors["weights"][0].transpose(1, 2, 0),
                               rtol=1e-5)
    np.testing.assert_allclose(biases, [0.5 - 1, -1 - 2], rtol=1e-5)
