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
