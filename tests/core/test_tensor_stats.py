"""Tensor summaries computed on numpy views (hand-computed expectations)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from darknet_inspector.core.tensor_stats import (
    HEALTH_FLAGS,
    HISTOGRAM_SAMPLE,
    filter_norms,
    strided_sample,
    tensor_stats,
    uniform_histogram,
)
from tests.conftest import ROOT


def test_stats_count_zeros_nan_and_inf_and_skip_them_in_mean():
    values = np.array([0.0, 1.0, 2.0, np.nan, np.inf, 0.0], dtype=np.float32)
    stats = tensor_stats("biases", values)
    assert (stats.count, stats.zeros, stats.nans, stats.infs) == (6, 2, 1, 1)
    assert (stats.minimum, stats.maximum) == (0.0, 2.0)
    assert stats.mean == 0.75  # (0 + 1 + 2 + 0) / 4 finite values
    assert stats.flags == ["nan", "inf"]
    assert any("NaN" in m for m in stats.messages) and any("infinite" in m for m in stats.messages)


def test_histogram_counts_every_value_of_a_small_tensor():
    values = np.array([0, 0, 1, 2, 3, 3, 3, 4], dtype=np.float32)
    stats = tensor_stats("biases", values)
    assert stats.counts.sum() == 8 and stats.sampled == 8
    assert stats.counts[0] == 2 and stats.counts[-1] == 1


def test_filter_norms_find_a_dead_filter():
    weights = np.ones((3, 2, 3, 3), dtype=np.float32)
    weights[1] = 0
    norms = filter_norms(weights)
    np.testing.assert_allclose(norms, [np.sqrt(18), 0, np.sqrt(18)])
    stats = tensor_stats("weights", weights)
    assert stats.dead_filters == 1 and stats.flags == ["dead_filters"]
    assert any("1 dead filter" in m for m in stats.messages)


def test_batch_norm_variance_flags():
    stats = tensor_stats("rolling_variance", np.array([1.0, -0.5, 0.0], dtype=np.float32))
    assert stats.flags == ["negative_variance", "zero_variance"]
    assert any("1 negative" in m for m in stats.messages)
    assert any("near zero" in m for m in stats.messages)
    assert not tensor_stats("rolling_mean", np.array([-1.0], dtype=np.float32)).flags


def test_big_tensors_are_sampled_through_a_view_not_copied():
    big = np.arange(10 * HISTOGRAM_SAMPLE, dtype=np.float32)
    sample = strided_sample(big)
    assert sample.base is big and sample.size <= HISTOGRAM_SAMPLE
    stats = tensor_stats("weights", big)
    assert stats.sampled == sample.size and stats.maximum == big[-1]


def test_healthy_values_raise_no_flag_and_every_flag_is_in_the_vocabulary():
    rng = np.random.default_rng(0)
    assert tensor_stats("weights", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)).flags == []
    spoiled = np.zeros(2, dtype=np.float32)
    spoiled[0] = np.nan
    stats = tensor_stats("rolling_variance", spoiled)
    assert stats.flags == ["nan", "zero_variance"]
    assert set(stats.flags) <= set(HEALTH_FLAGS)
    assert tensor_stats("biases", np.zeros(3, dtype=np.float32)).flags == ["all_zero"]


def test_the_flags_and_the_stream_need_numpy_only():
    """`inspect` computes them: the modules import no torch (nor Qt)."""
    for relative in ("core/tensor_stats.py", "core/jobs/__init__.py", "core/jobs/stream.py"):
        tree = ast.parse((ROOT / relative).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert not imported & {"torch", "PySide6", "pyqtgraph"}, relative


@pytest.mark.parametrize("shape", [(70_001,), (33, 8, 3, 3), (5, 3000, 3, 3)])
def test_one_sweep_mean_and_std_equal_numpys_two_pass_ones(shape):
    """Chunked sums around a shift give numpy's mean and std, also for an offset much
    larger than the spread."""
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(shape) * 0.01 + 3.0).astype(np.float32)
    values.reshape(-1)[::7] = 0.0
    stats = tensor_stats("weights", values)
    assert stats.mean == pytest.approx(values.mean(dtype=np.float64), rel=1e-9)
    assert stats.std == pytest.approx(values.std(dtype=np.float64), rel=1e-6)
    assert stats.zeros == int(np.count_nonzero(values == 0))


@pytest.mark.parametrize("seed", range(6))
def test_uniform_histogram_counts_as_numpy_does(seed):
    """Edges, values on edges, the closed last bin, values outside the range."""
    rng = np.random.default_rng(seed)
    sample = rng.standard_normal(5000).astype(np.float32)
    lo, hi = float(sample.min()), float(sample.max())
    edges = np.linspace(lo, hi, 65).astype(np.float32)
    sample = np.concatenate([sample, edges, [lo - 1, hi + 1]]).astype(np.float32)
    counts, got_edges = uniform_histogram(sample, lo, hi, 64)
    want, want_edges = np.histogram(sample, bins=64, range=(lo, hi))
    assert got_edges.tolist() == want_edges.tolist()
    assert counts.tolist() == want.tolist()
