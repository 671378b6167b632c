"""[region] decoding against our own transcription of Darknet's loops: YOLO9000's
`tree=` (`hierarchy_predictions` in src/tree.c, `get_region_boxes` in
src/region_layer.c) and `classfix=-1` (`get_region_boxes` zeroes objectness below .5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darknet_inspector.core.darknet_tree import parse_tree
from darknet_inspector.core.decoding import head_decoder
from darknet_inspector.core.decoding.region import (
    decode_region,
    hierarchy_predictions,
    tree_class_probabilities,
)
from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.layers.region import RegionParams
from darknet_inspector.core.torch_layers.softmax import group_of_each_class, softmax_tree
from tests.core.layers.layer_support import loaded, outputs, random_input
from tests.helpers import net_from_text

TREE = "animal -1\nplant -1\ndog 0\ncat 0\nbird 0\ntree 1\nflower 1\npuppy 2\nkitten 3\n"
"""Three levels: roots, their children, a grandchild each for dog and cat."""


def darknet_hierarchy_predictions(predictions: np.ndarray, parents) -> np.ndarray:
    """src/tree.c, only_leaves=0: in place, in index order, float32."""
    p = predictions.astype(np.float32).copy()
    for j, parent in enumerate(parents):
        if parent >= 0:
            p[j] *= p[parent]
    return p


def darknet_tree_probs(predictions: np.ndarray, parents, scale: float, thresh: float
                       ) -> np.ndarray:
    """`get_region_boxes` with `l.softmax_tree` and map=0 (what `detector test` passes)."""
    p = darknet_hierarchy_predictions(predictions, parents)
    probs = np.zeros_like(p)
    found = False
    for j in range(len(p) - 1, -1, -1):
        if not found and p[j] > .5:
            found = True
        else:
            p[j] = 0
        probs[j] = p[j] if scale > thresh else 0
    return probs


def grouped_softmax(values: np.ndarray, sizes) -> np.ndarray:
    out, count = values.astype(np.float64).copy(), 0
    for size in sizes:
        e = np.exp(values[count:count + size] - values[count:count + size].max())
        out[count:count + size] = e / e.sum()
        count += size
    return out


def test_hierarchy_predictions_multiply_down_the_tree_bit_for_bit():
    tree = parse_tree(TREE, "t.tree")
    rng = np.random.default_rng(0)
    conditional = rng.uniform(0, 1, (50, tree.n)).astype(np.float32)
    got = hierarchy_predictions(conditional, tree)
    want = np.stack([darknet_hierarchy_predictions(row, tree.parents) for row in conditional])
    np.testing.assert_array_equal(got, want)
    c = conditional[0]
    assert got[0, 7] == c[7] * (c[2] * c[0])  # puppy times dog's absolute value


def test_hierarchy_predictions_follow_darknets_order_for_a_parent_listed_later():
    tree = parse_tree("a 2\nb -1\nc 1\nd 0\n", "t.tree")
    conditional = np.array([[0.5, 0.9, 0.8, 0.7]], dtype=np.float32)
    got = hierarchy_predictions(conditional, tree)
    np.testing.assert_array_equal(got, darknet_hierarchy_predictions(conditional[0],
                                                                     tree.parents)[None])
    assert got[0, 0] == np.float32(0.5) * np.float32(0.8)  # c not yet times b


def test_only_the_last_listed_class_above_half_keeps_its_absolute_probability():
    tree = parse_tree(TREE, "t.tree")
    # animal .9 > dog .8*.9=.72 > puppy .6*.72=.432: dog (index 2) is the last above .5
    conditional = np.array([[0.9, 0.1, 0.8, 0.1, 0.1, 0.5, 0.5, 0.6, 0.9]], np.float32)
    probs = tree_class_probabilities(conditional, tree)
    assert np.argwhere(probs).tolist() == [[0, 2]]
    assert probs[0, 2].item() == np.float32(0.8) * np.float32(0.9)
    nothing = tree_class_probabilities(np.full((1, tree.n), 0.5, np.float32), tree)
    assert not nothing.any()  # .5 is not above .5


@pytest.mark.parametrize("classfix", [0, -1])
def test_tree_decoding_matches_darknets_loops_on_random_heads(classfix):
    """The whole head: softmax_tree on each box, then `get_region_boxes`' tree branch;
    ours keeps objectness as the gate, Darknet zeroes the box's probs when it fails
    (`classfix=-1`: an objectness below .5 counts as 0 first)."""
    tree = parse_tree(TREE, "t.tree")
    num, classes, h, w = 3, tree.n, 4, 5
    params = RegionParams(classes=classes, coords=4, num=num,
                          anchors=(1.0, 1.0, 2.0, 2.0, 3.0, 3.0), softmax=True,
                          tree="9k.tree", hierarchy=tree, classfix=classfix)
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 2, (num, 5 + classes, h, w)).astype(np.float32)
    raw[:, 4] = 1 / (1 + np.exp(-raw[:, 4]))  # the layer's logistic on objectness
    per_box = torch.from_numpy(raw[:, 5:]).permute(0, 2, 3, 1).reshape(-1, classes)
    soft = softmax_tree(per_box, group_of_each_class(tree), len(tree.group_sizes))
    raw[:, 5:] = soft.reshape(num, h, w, classes).permute(0, 3, 1, 2).numpy()
    decoded = decode_region(params, raw.reshape(-1, h, w), (160, 128))
    thresh = 0.4
    got = np.where(decoded.gate[:, None] > thresh, decoded.probs, 0)
    kept = 0
    for i in range(h * w):
        for n in range(num):
            entries = raw[n, :, i // w, i % w]
            np.testing.assert_allclose(entries[5:], grouped_softmax(
                per_box.numpy()[n * h * w + i], tree.group_sizes), rtol=1e-5)
            scale = 0 if classfix == -1 and entries[4] < .5 else entries[4]
            want = darknet_tree_probs(entries[5:], tree.parents, scale, thresh)
            np.testing.assert_array_equal(got[i * num + n], want)
            kept += int(want.any())
    assert kept > 5


def darknet_region_probs(memory: np.ndarray, num: int, classes: int, classfix: int,
                         thresh: float) -> np.ndarray:
    """`get_region_boxes` (src/region_layer.c) without a tree or map, on `l.output` as
    Darknet holds it ([H*W][n][5+C]): probs[index][j], index = cell * n + anchor."""
    boxes = memory.reshape(-1, 5 + classes)
    probs = np.zeros((len(boxes), classes), dtype=np.float32)
    for index, entries in enumerate(boxes):
        scale = entries[4]
        if classfix == -1 and scale < .5:
            scale = 0
        for j in range(classes):
            prob = np.float32(scale * entries[5 + j])
            probs[index, j] = prob if prob > thresh else 0
    return probs


CLASSFIX_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
filters=14
size=3
stride=8
pad=1
activation=linear

[region]
anchors=1,2, 3,4
classes=2
coords=4
num=2
softmax=1
classfix={classfix}
"""


@pytest.mark.parametrize("classfix", [0, -1])
def test_classfix_minus_one_zeroes_objectness_below_half_when_decoding(classfix, tmp_path):
    """A tiny [region] cfg with random weights: what our decoder keeps is what
    `get_region_boxes` keeps, with and without `classfix=-1`; the layer's output (dump)
    is the same for both."""
    network = net_from_text(CLASSFIX_CFG.format(classfix=classfix))
    assert network.diagnostics == []
    layer = network.layers[1]
    assert layer.params_as(RegionParams).classfix == classfix
    model, _, _ = loaded(network, tmp_path, seed=3)
    output = outputs(model, random_input(network, seed=2))[1][0]
    thresh = 0.05
    decoded = head_decoder("region").decode(layer, output, (32, 32))
    got = np.where((decoded.gate[:, None] > thresh) & (decoded.probs > thresh),
                   decoded.probs, 0)
    memory = layer_type("region").darknet_output(layer, output)
    want = darknet_region_probs(memory, 2, 2, classfix, thresh)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    objectness = memory.reshape(-1, 7)[:, 4]
    weak = (objectness < .5) & (objectness * memory.reshape(-1, 7)[:, 5:].max(1) > thresh)
    assert weak.sum() >= 2  # boxes the rule decides: kept with classfix=0, dropped with -1
    assert got[weak].any() == (classfix == 0)
    assert got[~weak].any()
