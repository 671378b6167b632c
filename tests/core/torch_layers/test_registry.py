"""The torch side covers the shape side exactly: every registered layer type has one
torch module builder, every head type a decoder (core.decoding), every activation name a
function."""

from __future__ import annotations

import pytest

from darknet_inspector.core.activations import ACTIVATION_NAMES
from darknet_inspector.core.decoding import decoded_types
from darknet_inspector.core.decoding.base import decoder_for
from darknet_inspector.core.layers import head_type, registered_types
from darknet_inspector.core.torch_layers import module_types
from darknet_inspector.core.torch_layers.activations import ACTIVATIONS
from darknet_inspector.core.torch_layers.registry import module_for


def test_every_layer_type_has_a_torch_module():
    assert module_types() == registered_types()


def test_every_head_type_has_a_decoder():
    assert decoded_types() == sorted(n for n in registered_types() if head_type(n))


def test_every_activation_name_has_one_function():
    assert set(ACTIVATIONS) == ACTIVATION_NAMES


def test_a_second_builder_or_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        module_for("route")(lambda layer: None)
    with pytest.raises(ValueError, match="not a registered layer type"):
        decoder_for("no_such_layer")(object)
