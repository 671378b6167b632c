"""core.numpy_layers.upsample against the torch UpsampleModule."""

from __future__ import annotations

import pytest

from tests.core.numpy_layers.parity import matches_torch

CONV = "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n\n"


@pytest.mark.parametrize("options", ["stride=2\n", "stride=3\nscale=0.5\n", "stride=-2\n",
                                     "stride=-3\nscale=2\n"])
def test_upsample_equals_torch(tmp_path, options):
    matches_torch(CONV + f"[upsample]\n{options}", tmp_path, width=12, height=12)
