"""[softmax]: `softmax_cpu` over `groups` chunks with a temperature, flat output, checked
against numpy and OpenCV; with `tree=` (the darknet9000 classifier) `softmax_tree` per
group of the tree file the user gives, against our transcription of Darknet's loops."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.darknet_tree import parse_tree
from tests.core.layers.layer_support import (
    build,
    darknet_softmax_tree,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
    refusal_without_tree,
    softmax,
    tree_refusal_text,
)

HEAD = "[convolutional]\nfilters=12\nsize=1\nactivation=linear\n\n[avgpool]\n\n"


def test_softmax_output_is_flat_and_stores_nothing():
    network = build(HEAD + "[softmax]\ngroups=1\n")
    assert network.layers[2].output_shape == (12,)
    assert network.layers[2].weights == ()


def test_soft_alias_with_groups_and_temperature(tmp_path):
    network = build(HEAD + "[soft]\ngroups=3\ntemperature=2\n")
    assert network.layers[2].type == "softmax"
    model, _, _ = loaded(network, tmp_path)
    _, pooled, got = outputs(model, random_input(network))
    expected = softmax(pooled.reshape(3, 4) / 2.0, axis=1).ravel()
    np.testing.assert_allclose(got[0], expected, rtol=1e-5, atol=1e-7)


def test_softmax_over_a_whole_feature_map_is_one_flat_softmax(tmp_path):
    network = build("[softmax]\n", width=3, height=2, channels=2)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    np.testing.assert_allclose(outputs(model, x)[0][0], softmax(x.ravel(), axis=0),
                               rtol=1e-5, atol=1e-7)


def test_softmax_groups_must_divide_the_inputs():
    (error,) = messages(build(HEAD + "[softmax]\ngroups=5\n"), "error")
    assert "groups=5 does not divide its 12 inputs" in error


def test_softmax_matches_opencv(tmp_path):
    network = build(HEAD + "[softmax]\ngroups=1\n")
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[-1]
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-5, atol=1e-7)


def test_softmax_spatial_warns_that_the_cpu_forward_ignores_it():
    network = build(HEAD + "[softmax]\nspatial=1\n")
    assert any("spatial=1" in m for m in messages(network, "warning"))


TREE = "a 2\nb 2\nc -1\nd -1\ne -1\n"
"""Children a, b listed before their parent c: `read_tree`'s groups are an empty one (the
first line's parent is not -1), (a, b) and (c, d, e) -- two softmaxes of uneven size."""
TREE_HEAD = "[convolutional]\nfilters=5\nsize=1\nactivation=linear\n\n[avgpool]\n\n"


def test_softmax_tree_softmaxes_each_group_with_the_temperature(tmp_path):
    tree = parse_tree(TREE, "t.tree")
    assert tree.group_sizes == (0, 2, 3)
    network = build(TREE_HEAD + "[softmax]\ngroups=1\ntemperature=0.5\ntree=data/9k.tree\n",
                    tree=tree)
    assert network.diagnostics == [] and network.layers[2].runnable
    model, _, _ = loaded(network, tmp_path)
    _, pooled, got = outputs(model, random_input(network, batch=2, seed=7))
    for sample in range(2):
        want = darknet_softmax_tree(pooled[sample], tree.group_sizes, 0.5)
        np.testing.assert_allclose(got[sample], want, rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose([got[sample][:2].sum(), got[sample][2:].sum()], [1, 1],
                                   rtol=1e-6)
    plain = darknet_softmax_tree(pooled[0], (5,), 0.5)
    assert not np.allclose(got[0], plain)  # not one softmax over all five


def test_softmax_tree_without_its_file_names_the_option_line_and_layer(tmp_path):
    network = build(TREE_HEAD + "[softmax]\ntree=data/9k.tree\n")
    layer = network.layers[2]
    assert not layer.runnable
    (warning,) = messages(network, "warning")
    assert warning.startswith("[softmax] tree=data/9k.tree: the hierarchical softmax")
    assert "--tree FILE" in warning
    assert refusal_without_tree(network, tmp_path) == tree_refusal_text(2, "softmax", 14)


def test_softmax_tree_file_with_another_count_is_an_error_at_the_tree_line():
    network = build(HEAD + "[softmax]\ntree=data/9k.tree\n", tree=parse_tree(TREE, "t.tree"))
    (error,) = messages(network, "error")
    assert error.startswith("t.tree has 5 classes (lines) but the layer has 12 inputs; it is "
                            "not this model's tree file (cfg line 14: tree=data/9k.tree)")
    assert not network.layers[2].runnable
