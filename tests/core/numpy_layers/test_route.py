"""core.numpy_layers.route against the torch RouteModule."""

from __future__ import annotations

from tests.core.numpy_layers.parity import matches_torch

BASE = ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n\n")


def test_concatenation_equals_torch(tmp_path):
    matches_torch(BASE + "[route]\nlayers=-1,0\n\n[convolutional]\nfilters=3\nsize=1\n"
                  "activation=linear\n", tmp_path)


def test_groups_and_group_id_take_one_slice(tmp_path):
    """yolov4-tiny's `groups=2 group_id=1`: the second half of each input's channels."""
    ours = matches_torch(BASE + "[route]\nlayers=0\ngroups=2\ngroup_id=1\n", tmp_path)
    assert ours[0].shape == (4, 12, 12)


def test_groups_over_two_inputs_equal_torch(tmp_path):
    matches_torch(BASE + "[route]\nlayers=0,1\ngroups=4\ngroup_id=2\n", tmp_path)
