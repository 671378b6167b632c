"""`classes`: the class count the file holds, and the classes=/filters= lines to set
(moved here from the ledger, whose size hint could contradict the weights)."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.diagnosis.engine import diagnose
from darknet_inspector.core.network import build_network
from darknet_inspector.core.weights import random_weights, write_weights
from tests.core.test_cli import CFG, line_of


def heads_cfg(classes: int) -> str:
    return CFG.replace("classes=1", f"classes={classes}").replace(
        "filters=18", f"filters={(classes + 5) * 3}")


@pytest.mark.parametrize("cfg_classes, file_classes", [(1, 80), (80, 1), (20, 3)])
def test_file_trained_for_other_classes_says_which_classes_and_filters_fit(
        tmp_path, cfg_classes, file_classes):
    trained = build_network(parse_cfg(heads_cfg(file_classes)))
    path = tmp_path / "w.weights"
    write_weights(path, trained, random_weights(trained))
    text = heads_cfg(cfg_classes)
    top = diagnose(build_network(parse_cfg(text)), path)[0]
    assert top.cause == "classes" and top.verified
    filters = (file_classes + 5) * 3
    lines = [line_of(text, f"filters={(cfg_classes + 5) * 3}", n) for n in (1, 2)]
    assert f"trained with {file_classes} class" in top.message
    assert f"filters={filters} on lines {lines[0]}, {lines[1]}" in top.fix


def test_classes_without_filters_never_advises_filters_against_the_weights(tmp_path):
    trained = build_network(parse_cfg(heads_cfg(80)))
    path = tmp_path / "w.weights"
    write_weights(path, trained, random_weights(trained))
    text = heads_cfg(80).replace("classes=80", "classes=20")
    network = build_network(parse_cfg(text))
    assert any("filters=75" in d.message for d in network.errors)
    top = diagnose(network, path)[0]
    assert top.cause == "classes" and top.verified
    assert "set classes=80" in top.fix and "filters=" not in top.fix
