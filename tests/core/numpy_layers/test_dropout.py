"""core.numpy_layers.dropout: the identity at inference."""

from __future__ import annotations

from tests.core.numpy_layers.parity import matches_torch


def test_dropout_is_the_identity(tmp_path):
    matches_torch("[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n\n"
                  "[dropout]\nprobability=.5\n\n[convolutional]\nfilters=3\nsize=1\n"
                  "activation=linear\n", tmp_path)
