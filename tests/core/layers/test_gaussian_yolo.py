"""[Gaussian_yolo]: the (classes + 9) * len(mask) rule, parameters, and
`forward_gaussian_yolo_layer` at inference."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.layers.gaussian_yolo import GaussianYoloParams
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    outputs,
    random_input,
    sigmoid,
)


def gaussian(filters: int = 22, extra: str = "") -> str:
    return (f"[convolutional]\nfilters={filters}\nsize=1\nactivation=linear\n\n"
            "[Gaussian_yolo]\nmask=1,2\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n"
            f"jitter=.3\nuc_normalizer=1.0\niou_loss=giou\n{extra}")


def test_gaussian_yolo_params_and_shape():
    network = build(gaussian(extra="nms_kind=diounms\nbeta_nms=0.5\nyolo_point=left_top\n"))
    assert network.diagnostics == []
    p = network.layers[1].params_as(GaussianYoloParams)
    assert (p.classes, p.num, p.mask) == (2, 3, (1, 2))
    assert p.anchors == (1, 2, 3, 4, 5, 6)
    assert (p.nms_kind, p.beta_nms, p.yolo_point) == ("diounms", 0.5, "left_top")
    assert network.layers[1].output_shape == (22, 8, 8)
    assert network.heads == [1]


def test_gaussian_yolo_filters_rule_is_classes_plus_nine_per_anchor():
    (error,) = messages(build(gaussian(filters=14)), "error")
    assert "(classes + 9) * len(mask) = (2 + 9) * 2 = 22" in error
    assert "set filters=22" in error


def reference(raw: np.ndarray, scale: float) -> np.ndarray:
    v = raw.reshape(2, 11, -1).astype(np.float64).copy()
    for e in (0, 1, 2, 3, 5, 7, 8, 9, 10):
        v[:, e] = sigmoid(v[:, e])
    for e in (0, 2):
        v[:, e] = v[:, e] * scale - 0.5 * (scale - 1)
    return v.reshape(raw.shape)


@pytest.mark.parametrize("scale", [1.0, 1.1])
def test_gaussian_yolo_forward_matches_darknet(tmp_path, scale):
    network = build(gaussian(extra=f"scale_x_y={scale}\n"))
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    np.testing.assert_allclose(got, reference(raw, scale), rtol=1e-5, atol=1e-6)
    # the w, h means (entries 4, 6) stay raw
    np.testing.assert_array_equal(got.reshape(2, 11, -1)[:, [4, 6]],
                                  raw.reshape(2, 11, -1)[:, [4, 6]])
