"""[route]: concatenation in `layers=` order and the group_id-th of `groups` slices."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.layers.layer_support import build, loaded, messages, outputs, random_input

TWO = ("[convolutional]\nfilters=4\nsize=1\nactivation=linear\n\n"
       "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n\n")


def test_route_concatenates_in_the_listed_order(tmp_path):
    network = build(TWO + "[route]\nlayers=-1,0\n")
    assert network.layers[2].output_shape == (10, 8, 8)
    assert network.layers[2].inputs == (1, 0)
    model, _, _ = loaded(network, tmp_path)
    a, b, got = outputs(model, random_input(network))
    np.testing.assert_array_equal(got, np.concatenate([b, a], axis=1))


@pytest.mark.parametrize("group_id", [0, 1])
def test_route_groups_take_one_slice_of_each_input(tmp_path, group_id):
    network = build(TWO + f"[route]\nlayers=0,1\ngroups=2\ngroup_id={group_id}\n")
    assert network.layers[2].output_shape == (5, 8, 8)
    model, _, _ = loaded(network, tmp_path)
    a, b, got = outputs(model, random_input(network))
    want = np.concatenate([a[:, 2 * group_id:2 * group_id + 2],
                           b[:, 3 * group_id:3 * group_id + 3]], axis=1)
    np.testing.assert_array_equal(got, want)


def test_route_group_id_must_be_below_groups():
    (error,) = messages(build(TWO + "[route]\nlayers=0\ngroups=2\ngroup_id=2\n"), "error")
    assert "group_id=2 must be in 0..1" in error


def test_route_of_different_sizes_is_an_error():
    body = TWO + "[maxpool]\nsize=2\nstride=2\n\n[route]\nlayers=-1,0\n"
    (error,) = messages(build(body), "error")
    assert "same width and height" in error
