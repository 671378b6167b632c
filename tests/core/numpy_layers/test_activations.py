"""core.numpy_layers.activations against core.torch_layers.activations, over a range that
reaches Darknet's cut-offs (mish's softplus at +-20, exp overflow far below 0)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darknet_inspector.core.numpy_layers.activations import IN_PLACE, activation_step
from darknet_inspector.core.numpy_layers.registry import NotCovered
from darknet_inspector.core.torch_layers.activations import ACTIVATIONS

VALUES = np.concatenate([np.linspace(-120, 120, 4801), np.linspace(-3, 3, 1201),
                         [-1e30, -88.8, -20.0001, 19.9999, 20.0001, 1e30]]).astype(np.float32)


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_each_activation_equals_torchs(name):
    ours = VALUES.copy()
    IN_PLACE[name](ours)
    theirs = ACTIVATIONS[name](torch.from_numpy(VALUES.copy())).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6, err_msg=name)


def test_mish_equals_torchs_far_out():
    x = np.float32([-1000, -100, -30, -20, 0, 20, 30, 100, 1e6])
    ours = x.copy()
    IN_PLACE["mish"](ours)
    theirs = torch.nn.functional.mish(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-30)
    assert np.isfinite(ours).all()


def test_unknown_names_run_as_relu_and_uncovered_ones_are_refused():
    assert activation_step("nonsense") is IN_PLACE["relu"]
    with pytest.raises(NotCovered, match="activation=normalize_channels"):
        activation_step("normalize_channels")
