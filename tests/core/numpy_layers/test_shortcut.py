"""core.numpy_layers.shortcut against the torch ShortcutModule: plain, several sources,
weighted (per feature / per channel, relu / softmax normalisation), sizes that differ."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.numpy_layers.shortcut import aligned_to, mixing_weights
from tests.core.numpy_layers.parity import matches_torch

BASE = ("[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=mish\n\n")


def test_residual_equals_torch(tmp_path):
    matches_torch(BASE + "[shortcut]\nfrom=-2\nactivation=linear\n", tmp_path)


def test_several_sources_and_an_activation_equal_torch(tmp_path):
    matches_torch(BASE + "[convolutional]\nfilters=6\nsize=1\nactivation=leaky\n\n"
                  "[shortcut]\nfrom=-2,-3\nactivation=leaky\n", tmp_path)


@pytest.mark.parametrize("kind", ["per_feature", "per_channel"])
@pytest.mark.parametrize("norm", ["none", "relu", "softmax"])
def test_weighted_shortcut_equals_torch(tmp_path, kind, norm):
    matches_torch(BASE + f"[shortcut]\nfrom=-2\nweights_type={kind}\n"
                  f"weights_normalization={norm}\nactivation=linear\n", tmp_path)


def test_a_smaller_source_adds_in_flat_chw_order(tmp_path):
    """Different channel counts: Darknet adds element by element over the smaller size."""
    matches_torch("[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n\n"
                  "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"
                  "[shortcut]\nfrom=-2\nactivation=linear\n", tmp_path)
    matches_torch("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
                  "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"
                  "[shortcut]\nfrom=-2\nactivation=linear\n", tmp_path)


def test_aligned_to_crops_and_pads_in_chw_order():
    add = np.arange(2 * 1 * 3, dtype=np.float32).reshape(2, 1, 3).transpose(1, 2, 0)  # HWC
    grown = aligned_to(add, (1, 3, 3))
    assert grown.transpose(2, 0, 1).ravel().tolist() == [0, 1, 2, 3, 4, 5, 0, 0, 0]
    assert aligned_to(add, (1, 3, 1)).ravel().tolist() == [0, 1, 2]


def test_relu_normalization_keeps_a_negative_weight_at_0_001():
    """`fuse_conv_batchnorm`'s max(w, 0.001), not relu."""
    w = mixing_weights(np.array([-1.0, 1.0], np.float32), "relu")
    np.testing.assert_allclose(w.ravel(), [0.001 / 1.0011, 1 / 1.0011], rtol=1e-5)
