"""core.numpy_layers.pooling against the torch modules: Darknet's asymmetric padding,
stride_x != stride_y, maxpool_depth, local_avgpool and the global avgpool."""

from __future__ import annotations

import pytest

from tests.core.numpy_layers.parity import matches_torch

CONV = "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"


@pytest.mark.parametrize("options", [
    "size=2\nstride=2\n", "size=2\nstride=1\n", "size=3\nstride=2\n",
    "size=5\nstride=1\n", "size=13\nstride=1\n", "size=2\nstride_x=2\nstride_y=1\n",
    "size=3\nstride=2\npadding=0\n", "size=3\nstride=1\npadding=4\n",
])
def test_maxpool_equals_torch(tmp_path, options):
    matches_torch(CONV + f"[maxpool]\n{options}", tmp_path, width=13, height=11)


def test_maxpool_depth_equals_torch(tmp_path):
    matches_torch(CONV + "[maxpool]\nmaxpool_depth=1\nout_channels=4\n", tmp_path)


@pytest.mark.parametrize("options", ["size=3\nstride=1\n", "size=2\nstride=2\n"])
def test_local_avgpool_equals_torch(tmp_path, options):
    matches_torch(CONV + f"[local_avgpool]\n{options}", tmp_path, width=13, height=11)


def test_global_avgpool_equals_torch(tmp_path):
    matches_torch(CONV + "[avgpool]\n\n[convolutional]\nfilters=3\nsize=1\n"
                  "activation=linear\n", tmp_path)
