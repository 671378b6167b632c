"""[region] (YOLOv2): parameters, the filters check, Darknet's inference activations and
its location-major `l.output`, against numpy and OpenCV's decoder."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.darknet_tree import parse_tree
from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.layers.region import RegionParams
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
    refusal_without_tree,
    sigmoid,
    softmax,
    tree_refusal_text,
)


def region(filters: int = 14, classes: int = 2, num: int = 2, extra: str = "softmax=1\n"):
    return (f"[convolutional]\nfilters={filters}\nsize=1\nactivation=linear\n\n"
            f"[region]\nclasses={classes}\ncoords=4\nnum={num}\nanchors=1,2,3,4\n"
            f"thresh=0\njitter=.2\nrescore=1\nbias_match=1\n{extra}")


def test_region_params_use_the_names_detection_needs():
    network = build(region())
    assert network.diagnostics == []
    layer = network.layers[1]
    assert layer.output_shape == (14, 8, 8)
    p = layer.params_as(RegionParams)
    assert (p.classes, p.coords, p.num, p.softmax) == (2, 4, 2, True)
    assert p.anchors == (1.0, 2.0, 3.0, 4.0)
    assert (p.nms_kind, p.beta_nms) == ("default", 0.6)
    assert network.heads == [1]


def test_region_filters_mismatch_names_the_rule_and_the_conv_line():
    network = build(region(filters=12))
    (error,) = messages(network, "error")
    assert "num * (coords + 1 + classes)" in error
    assert "set filters=14 on line 7" in error


def test_region_missing_anchors_are_half_as_in_make_region_layer():
    network = build(region(num=2).replace("anchors=1,2,3,4", "anchors=1,2,3"))
    assert network.layers[1].params_as(RegionParams).anchors == (1.0, 2.0, 3.0, 0.5)


def test_region_forward_is_logistic_objectness_and_softmax_classes(tmp_path):
    network = build(region())
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    raw = raw.reshape(2, 7, 8, 8)
    want = raw.copy()
    want[:, 4] = sigmoid(raw[:, 4])
    want[:, 5:] = softmax(raw[:, 5:], axis=1)
    np.testing.assert_allclose(got.reshape(2, 7, 8, 8), want, rtol=1e-5, atol=1e-6)


def test_region_without_softmax_leaves_classes_raw(tmp_path):
    network = build(region(extra=""))
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    raw, got = raw.reshape(2, 7, 64), got.reshape(2, 7, 64)
    np.testing.assert_array_equal(got[:, 5:], raw[:, 5:])
    np.testing.assert_allclose(got[:, 4], sigmoid(raw[:, 4]), rtol=1e-6)


def test_region_dump_is_darknets_location_major_memory():
    network = build(region())
    layer = network.layers[1]
    ours = np.arange(14 * 8 * 8, dtype=np.float32).reshape(14, 8, 8)
    dumped = layer_type("region").darknet_output(layer, ours).ravel()
    size, layers = 8 * 8, 14
    expected = np.empty(size * layers, dtype=np.float32)
    flat = ours.ravel()
    for c in range(layers):
        for i in range(size):
            expected[i * layers + c] = flat[c * size + i]
    np.testing.assert_array_equal(dumped, expected)


def test_region_matches_opencv_decoded_boxes(tmp_path):
    network = build(region(), width=4, height=3)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[1].reshape(2, 7, 3, 4)
    theirs = opencv_output(network, tmp_path, path, x)
    anchors = np.array([[1, 2], [3, 4]], dtype=np.float32)
    compared_classes = 0
    for row, values in enumerate(theirs):
        location, a = divmod(row, 2)
        y, x_ = divmod(location, 4)
        v = got[a, :, y, x_]
        decoded = np.array([(x_ + sigmoid(v[0])) / 4, (y + sigmoid(v[1])) / 3,
                            np.exp(v[2]) * anchors[a, 0] / 4, np.exp(v[3]) * anchors[a, 1] / 3,
                            v[4], *(v[5:] * v[4])])
        kept = values != 0  # OpenCV zeroes class probabilities under its own threshold
        kept[:5] = True
        compared_classes += int(kept[5:].sum())
        np.testing.assert_allclose(values[kept], decoded[kept], rtol=1e-4, atol=1e-5)
    assert compared_classes > 0


TREE = "animal -1\nplant -1\ndog 0\ncat 0\nbird 0\ntree 1\nflower 1\n"
"""Two softmax groups under two roots: (animal, plant), (dog, cat, bird), (tree, flower)."""


def tree_region(extra: str = "") -> str:
    return region(filters=24, classes=7, extra=f"softmax=1\ntree=data/9k.tree\n{extra}")


def test_region_tree_without_its_file_names_the_option_line_and_layer(tmp_path):
    network = build(tree_region())
    layer = network.layers[1]
    assert not layer.runnable
    (warning,) = [m for m in messages(network, "warning") if "tree=data/9k.tree" in m]
    assert "never opens a path written inside a cfg" in warning and "--tree FILE" in warning
    assert messages(network, "error") == []
    assert refusal_without_tree(network, tmp_path) == tree_refusal_text(1, "region", 21)


def test_region_tree_file_with_another_class_count_is_an_error_at_the_tree_line():
    network = build(tree_region().replace("classes=7", "classes=6").replace("filters=24",
                                                                             "filters=22"),
                    tree=parse_tree(TREE, "small.tree"))
    (error,) = network.diagnostics
    assert (error.severity, error.layer, error.line) == ("error", 1, 21)
    assert error.message.startswith("small.tree has 7 classes (lines) but the layer has "
                                    "classes=6")
    assert not network.layers[1].runnable


def test_region_tree_softmaxes_each_group_of_the_location_major_entries(tmp_path):
    """`forward_region_layer` on the CPU: flatten to [H*W][n][E], logistic on entry 4,
    then `softmax_tree` on each box's classes, group by group (numpy, Darknet's loops)."""
    tree = parse_tree(TREE, "t.tree")
    network = build(tree_region(), tree=tree)
    assert network.diagnostics == [] and network.layers[1].runnable
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network, seed=4))
    want = darknet_region_tree_forward(raw[0], num=2, classes=7, group_sizes=tree.group_sizes)
    dumped = layer_type("region").darknet_output(network.layers[1], got[0])
    np.testing.assert_allclose(dumped.reshape(-1), want, rtol=1e-5, atol=1e-7)


def darknet_region_tree_forward(raw: np.ndarray, num: int, classes: int,
                                group_sizes: tuple[int, ...]) -> np.ndarray:
    """Our own transcription of `forward_region_layer` (src/region_layer.c, CPU build,
    state.train=0) with `l.softmax_tree` set: `l.output` as a flat array."""
    size = 5 + classes
    channels, h, w = raw.shape
    out = raw.reshape(channels, h * w).T.reshape(-1).astype(np.float64)  # flatten(.., 1)
    for i in range(h * w * num):
        index = size * i
        out[index + 4] = 1 / (1 + np.exp(-out[index + 4]))
        count = index + 5
        for group in group_sizes:
            values = out[count:count + group]
            e = np.exp(values - values.max())
            out[count:count + group] = e / e.sum()
            count += group
    return out
