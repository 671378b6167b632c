"""Weights diff: exactly the tensors that were changed, by how much, and the histogram."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.diff import diff_weights, tensor_difference, value_histogram
from darknet_inspector.core.weights import WeightsHeader, random_weights, write_weights
from tests.conftest import zoo_path
from tests.helpers import net_from_text

TEXT = """[net]
width=16
height=16
channels=3
[convolutional]
filters=4
size=3
pad=1
batch_normalize=1
activation=leaky
[convolutional]
filters=6
size=1
activation=linear
[connected]
output=5
activation=linear
"""


@pytest.fixture
def pair(tmp_path):
    network = net_from_text(TEXT)
    a = random_weights(network, seed=0)
    b = {key: values.copy() for key, values in a.items()}
    b[(0, "rolling_mean")][2] += 0.25  # one value
    b[(1, "weights")] *= 1.5  # a whole tensor
    b[(2, "biases")][[0, 4]] -= 1.0  # two values
    write_weights(tmp_path / "a.weights", network, a, WeightsHeader(0, 2, 5, 1000))
    write_weights(tmp_path / "b.weights", network, b, WeightsHeader(0, 2, 5, 2000))
    return network, tmp_path / "a.weights", tmp_path / "b.weights", a, b


def test_diff_finds_exactly_the_changed_tensors(pair):
    network, path_a, path_b, a, b = pair
    diff = diff_weights(network, path_a, path_b)
    changed = {(t.layer, t.name): t for t in diff.changed}
    assert set(changed) == {(0, "rolling_mean"), (1, "weights"), (2, "biases")}
    assert diff.changed_layers == [0, 1, 2]
    assert changed[(0, "rolling_mean")].changed_values == 1
    assert changed[(2, "biases")].changed_values == 2
    nonzero = int(np.count_nonzero(a[(1, "weights")]))
    assert changed[(1, "weights")].changed_values == nonzero
    assert len(diff.tensors) == sum(len(layer.weights) for layer in network.layers)


def test_relative_change_is_the_l2_ratio(pair):
    network, path_a, path_b, a, b = pair
    rows = {(t.layer, t.name): t for t in diff_weights(network, path_a, path_b).tensors}
    assert rows[(1, "weights")].rel_change == pytest.approx(0.5, rel=1e-6)
    mean = a[(0, "rolling_mean")].astype(np.float64)
    assert rows[(0, "rolling_mean")].rel_change == pytest.approx(
        abs(float(b[(0, "rolling_mean")][2]) - mean[2]) / np.linalg.norm(mean), rel=1e-5)
    assert rows[(2, "biases")].max_abs == pytest.approx(1.0, rel=1e-6)
    assert rows[(0, "scales")].rel_change == 0.0 and not rows[(0, "scales")].changed


def test_histogram_counts_every_changed_value_once(pair):
    network, path_a, path_b, a, _ = pair
    diff = diff_weights(network, path_a, path_b, bins=11)
    histogram = diff.histogram
    changed = sum(t.changed_values for t in diff.changed)
    total = sum(values.size for values in a.values())
    assert sum(histogram.counts) == changed
    assert histogram.unchanged == total - changed
    assert len(histogram.edges) == 12
    assert histogram.edges[0] == pytest.approx(-1.0) and histogram.edges[-1] == pytest.approx(1.0)
    assert histogram.counts[0] == 2  # the two biases lowered by 1.0


def test_header_change_is_reported(pair):
    network, path_a, path_b, _, _ = pair
    assert diff_weights(network, path_a, path_b).header_changes() == {"seen": (1000, 2000)}


def test_identical_files_have_no_changes(pair):
    network, path_a, _, _, _ = pair
    diff = diff_weights(network, path_a, path_a)
    assert diff.changed == [] and diff.changed_layers == []
    assert diff.histogram.counts == []


def test_transposed_file_with_the_same_values_is_unchanged(pair, tmp_path):
    """[connected] weights stored transposed (major > 1000) compare in natural order."""
    network, path_a, _, a, _ = pair
    write_weights(tmp_path / "t.weights", network, a, WeightsHeader(1001, 2, 5, 1000))
    raw_a = np.fromfile(path_a, np.uint8)[20:]
    raw_t = np.fromfile(tmp_path / "t.weights", np.uint8)[20:]
    assert not np.array_equal(raw_a, raw_t)  # the bytes do differ
    assert diff_weights(network, path_a, tmp_path / "t.weights").changed == []


def test_short_file_lists_absent_tensors_and_the_problem(pair, tmp_path):
    network, path_a, path_b, _, _ = pair
    data = path_b.read_bytes()
    short = tmp_path / "short.weights"
    short.write_bytes(data[:-40])
    diff = diff_weights(network, path_a, short)
    assert diff.has_errors and "file B" in diff.diagnostics[0].message
    absent = [(t.layer, t.name) for t in diff.tensors if not t.present]
    assert absent == [(2, "weights")]


def test_tensor_difference_is_b_minus_a(pair):
    network, path_a, path_b, a, b = pair
    delta = tensor_difference(network, path_a, path_b, 2, "biases")
    assert np.array_equal(delta, b[(2, "biases")] - a[(2, "biases")])
    histogram = value_histogram(delta, bins=4)
    assert sum(histogram.counts) == 2 and histogram.unchanged == 3


def test_cli_diff_json(pair, capsys):
    network, path_a, path_b, _, _ = pair
    cfg = path_a.parent / "net.cfg"
    cfg.write_text(TEXT)
    code = main(["diff", str(cfg), str(path_a), str(path_b), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["changed_layers"] == [0, 1, 2]
    assert [(t["layer"], t["name"]) for t in payload["tensors"] if t["changed"]] == [
        (0, "rolling_mean"), (1, "weights"), (2, "biases")]
    assert payload["header_changes"] == {"seen": [1000, 2000]}


def test_cli_diff_text_and_short_file_exit_1(pair, tmp_path, capsys):
    network, path_a, path_b, _, _ = pair
    cfg = tmp_path / "net.cfg"
    cfg.write_text(TEXT)
    assert main(["diff", str(cfg), str(path_a), str(path_b)]) == 0
    assert "3 of 9 tensors changed, in 3 layers: 0, 1, 2" in capsys.readouterr().out
    short = tmp_path / "short.weights"
    short.write_bytes(path_b.read_bytes()[:100])
    assert main(["diff", str(cfg), str(path_a), str(short)]) == 1


def test_diff_on_a_zoo_cfg_with_one_layer_retrained(tmp_path):
    from darknet_inspector.core.network import load_network

    network = load_network(zoo_path("cfg", "yolov4-tiny.cfg"), 64, 64)
    a = random_weights(network, seed=3)
    b = dict(a)
    head = network.heads[0] - 1
    b[(head, "weights")] = a[(head, "weights")] + np.float32(1e-3)
    write_weights(tmp_path / "a.weights", network, a)
    write_weights(tmp_path / "b.weights", network, b)
    diff = diff_weights(network, tmp_path / "a.weights", tmp_path / "b.weights")
    assert [(t.layer, t.name) for t in diff.changed] == [(head, "weights")]
    assert math.isclose(diff.changed[0].max_abs, 1e-3, rel_tol=1e-2)
