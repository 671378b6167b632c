"""`inspect` prints each tensor's health flags (core.tensor_stats), in JSON and in the table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.tensor_stats import HEALTH_FLAGS
from darknet_inspector.core.weights import random_weights, write_weights
from tests.helpers import net_from_text

CFG = """[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=6
size=1
stride=1
activation=linear
"""


@pytest.fixture
def model(tmp_path):
    """A cfg and a writer of its weights with some tensors spoiled."""
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    network = net_from_text(CFG)

    def weights(spoil=lambda tensors: None):
        tensors = {key: np.array(value, dtype=np.float32)
                   for key, value in random_weights(network, 3).items()}
        spoil(tensors)
        path = tmp_path / "m.weights"
        write_weights(path, network, tensors)
        return path

    return cfg, weights


def inspect_json(capsys, cfg, weights) -> dict:
    main(["inspect", str(cfg), str(weights), "--json"])
    return json.loads(capsys.readouterr().out)


def flags_of(report: dict) -> dict[tuple[int, str], list[str]]:
    return {(layer["index"], p["name"]): p["flags"] for layer in report["layers"]
            for p in layer["params"]}


def test_a_healthy_file_raises_no_flag(model, capsys):
    cfg, weights = model
    report = inspect_json(capsys, cfg, weights())
    assert all(flags == [] for flags in flags_of(report).values())
    main(["inspect", str(cfg), str(weights())])
    assert " ! " not in capsys.readouterr().out


def test_a_nan_in_a_tensor_is_flagged_nan_in_json_and_text(model, capsys):
    cfg, weights = model
    path = weights(lambda t: t[(1, "weights")].reshape(-1).__setitem__(5, np.nan))
    flags = flags_of(inspect_json(capsys, cfg, path))
    assert flags[(1, "weights")] == ["nan"]
    assert flags[(1, "biases")] == [] and flags[(0, "weights")] == []
    main(["inspect", str(cfg), str(path)])
    assert "! weights: nan" in capsys.readouterr().out


def test_a_negative_batch_norm_variance_is_flagged(model, capsys):
    cfg, weights = model
    path = weights(lambda t: t[(0, "rolling_variance")].__setitem__(2, -0.25))
    flags = flags_of(inspect_json(capsys, cfg, path))
    assert flags[(0, "rolling_variance")] == ["negative_variance"]
    main(["inspect", str(cfg), str(path)])
    assert "! rolling_variance: negative_variance" in capsys.readouterr().out


def test_a_dead_filter_and_a_near_zero_variance_are_flagged(model, capsys):
    cfg, weights = model

    def spoil(tensors):
        tensors[(0, "weights")][1] = 0
        tensors[(0, "rolling_variance")][0] = 0

    flags = flags_of(inspect_json(capsys, cfg, weights(spoil)))
    assert flags[(0, "weights")] == ["dead_filters"]
    assert flags[(0, "rolling_variance")] == ["zero_variance"]
    assert {f for fs in flags.values() for f in fs} <= set(HEALTH_FLAGS)


def test_tensors_the_file_does_not_reach_have_no_flags(model, capsys):
    cfg, weights = model
    path = weights()
    path.write_bytes(path.read_bytes()[:100])  # ends inside layer 0
    report = inspect_json(capsys, cfg, path)
    assert all(flags == [] for flags in flags_of(report).values())
