"""core.numpy_layers.region against the torch RegionModule (no tree): logistic objectness,
softmax classes."""

from __future__ import annotations

import pytest

from tests.core.numpy_layers.parity import matches_torch


@pytest.mark.parametrize("softmax", [0, 1])
def test_region_head_equals_torch(tmp_path, softmax):
    matches_torch("[convolutional]\nfilters=24\nsize=1\nactivation=linear\n\n[region]\n"
                  f"anchors=1,1,2,2,3,3\nclasses=3\ncoords=4\nnum=3\nsoftmax={softmax}\n",
                  tmp_path)
