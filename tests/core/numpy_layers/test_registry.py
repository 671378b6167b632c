"""core.numpy_layers.registry: one builder per type, checked names, refusals."""

from __future__ import annotations

import pytest

from darknet_inspector.core.numpy_layers import NotCovered, check_covered, step_types
from darknet_inspector.core.numpy_layers.registry import step_for
from tests.core.layers.layer_support import build


def test_the_detector_families_have_steps():
    assert {"convolutional", "route", "shortcut", "maxpool", "upsample", "yolo", "dropout",
            "reorg", "region", "avgpool"} <= set(step_types())


def test_registering_a_type_twice_or_an_unknown_type_fails():
    with pytest.raises(ValueError, match="registered twice"):
        step_for("route")(lambda layer, tensors, rows: None)
    with pytest.raises(ValueError, match="not a registered layer type"):
        step_for("no_such_layer")(lambda layer, tensors, rows: None)


def test_a_type_without_a_step_is_not_covered():
    network = build("[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n\n[softmax]\n")
    with pytest.raises(NotCovered, match=r"no numpy step for \[softmax\]"):
        check_covered(network.layers[1])
