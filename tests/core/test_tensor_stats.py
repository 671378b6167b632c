"""Tensor summaries computed on numpy views (hand-computed expectations)."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.tensor_stats import (
    HISTOGRAM_SAMPLE,
    filter_norms,
    strided_sample,
    tensor_stats,
)


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
