"""Tensor stats measured in a child process (the app's stream, issue 15): the same numbers
as measured here, a child reused after a clean stream, and a stream that measures for
itself whatever a dead or early-stopping child did not send."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from darknet_inspector.core.jobs import run_job, stream
from darknet_inspector.core.jobs.stream import StreamUpdate, stats_plan, stream_weights
from darknet_inspector.core.network import load_network
from darknet_inspector.core.stats_process import StatsChild, measure
from darknet_inspector.core.weights import FLOAT, WeightsReader, random_weights, write_weights
from tests.core.test_report import CFG


@pytest.fixture
def model(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    network = load_network(str(cfg))
    tensors = random_weights(network, 0)
    tensors[(0, "rolling_variance")] = -np.abs(tensors[(0, "rolling_variance")])
    tensors[(1, "weights")][2] = 0.0  # a dead filter
    path = tmp_path / "m.weights"
    write_weights(path, network, tensors)
    return network, str(path)


def stats_of(network, path, child=None) -> dict:
    found: dict = {}

    def keep(item):
        if isinstance(item, StreamUpdate):
            found.update({(item.record.index, n): s for n, s in item.stats.items()})

    run_job(stream_weights(network, path, child=child), keep)
    return found


def same(a, b) -> bool:
    return (a.count, a.minimum, a.maximum, a.mean, a.std, a.zeros, a.flags) == \
        (b.count, b.minimum, b.maximum, b.mean, b.std, b.zeros, b.flags) and \
        np.array_equal(a.counts, b.counts) and np.array_equal(a.edges, b.edges)


def test_a_child_measures_what_the_stream_would_measure_itself(model, monkeypatch):
    network, path = model
    here = stats_of(network, path)
    measured_here: list = []
    monkeypatch.setattr(stream, "tensor_stats", lambda *a: measured_here.append(a))
    there = stats_of(network, path, StatsChild())
    assert measured_here == []  # all of it in the child
    assert here.keys() == there.keys() and len(here) == 7
    assert all(same(here[key], there[key]) for key in here)
    assert there[(1, "weights")].flags == ["dead_filters"]


def test_a_child_is_reused_after_a_clean_stream_and_closed_after_a_cancel(model):
    network, path = model
    StatsChild.close_spare()
    child = StatsChild()
    stats_of(network, path, child)
    assert StatsChild.take() is child and child.alive
    stream = stream_weights(network, path, child=child)
    next(stream), next(stream)
    stream.close()  # the app's Cancel
    assert not child.alive


def test_a_dead_child_leaves_the_stream_to_measure_itself(model):
    network, path = model
    child = StatsChild()
    child._process.kill()
    child._process.wait()
    there = stats_of(network, path, child)
    assert there.keys() == stats_of(network, path).keys()


def test_the_child_stops_at_a_tensor_the_file_no_longer_holds(model, tmp_path):
    network, path = model
    plan = stats_plan(network, WeightsReader(network, path))
    short = tmp_path / "short.weights"
    data = open(path, "rb").read()
    short.write_bytes(data[:plan[1][1][0][1] + 8])  # cut inside layer 1's first tensor
    assert [layer for layer, _ in measure(str(short), FLOAT.str, plan)] == [0]


def test_the_child_imports_neither_torch_nor_qt():
    code = ("import sys, darknet_inspector.core.stats_process; "
            "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
