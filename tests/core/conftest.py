"""Fixtures the core tests share."""

from __future__ import annotations

import pytest

from tests.bad_inputs.corpus import BASE_CFG, base_weights


@pytest.fixture
def base_model(tmp_path) -> tuple[str, str]:
    """The bad-input corpus's small valid model as (cfg, weights) paths in tmp_path."""
    cfg, weights = tmp_path / "model.cfg", tmp_path / "model.weights"
    cfg.write_text(BASE_CFG)
    weights.write_bytes(base_weights())
    return str(cfg), str(weights)


@pytest.fixture
def flagged_model(tmp_path):
    """test_report's two-layer cfg with random weights, layer 0's batch-norm variances all
    negative and one dead filter in layer 1: (network, weights path)."""
    import numpy as np

    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.weights import random_weights, write_weights
    from tests.core.test_report import CFG

    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    network = load_network(str(cfg))
    tensors = random_weights(network, 0)
    tensors[(0, "rolling_variance")] = -np.abs(tensors[(0, "rolling_variance")])
    tensors[(1, "weights")][2] = 0.0  # a dead filter
    path = tmp_path / "m.weights"
    write_weights(path, network, tensors)
    return network, str(path)
