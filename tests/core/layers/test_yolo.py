"""[yolo]: `forward_yolo_layer` at inference (new_coords 0/1, scale_x_y), the anchors
Darknet falls back to, and a mask past num (accepted by Darknet)."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.layers.yolo import YoloParams
from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    outputs,
    random_input,
    sigmoid,
)


def yolo(extra: str = "", mask: str = "0,1", num: int = 3, anchors: str = "1,2,3,4,5,6"):
    return ("[convolutional]\nfilters=16\nsize=1\nactivation=linear\n\n"
            f"[yolo]\nmask={mask}\nanchors={anchors}\nclasses=3\nnum={num}\n{extra}")


def reference_yolo(raw: np.ndarray, scale_x_y: float, new_coords: bool) -> np.ndarray:
    """Per anchor (2) and entry (8): x, y, w, h, objectness, 3 classes."""
    v = raw.reshape(2, 8, -1).astype(np.float64).copy()
    if not new_coords:
        v[:, 0:2] = sigmoid(v[:, 0:2])
        v[:, 4:] = sigmoid(v[:, 4:])
    v[:, 0:2] = v[:, 0:2] * scale_x_y - 0.5 * (scale_x_y - 1)
    return v.reshape(raw.shape)


@pytest.mark.parametrize("new_coords", [0, 1])
@pytest.mark.parametrize("scale_x_y", [1.0, 1.2])
def test_yolo_forward_matches_forward_yolo_layer(tmp_path, new_coords, scale_x_y):
    network = build(yolo(f"scale_x_y={scale_x_y}\nnew_coords={new_coords}\n"))
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    np.testing.assert_allclose(got, reference_yolo(raw, scale_x_y, bool(new_coords)),
                               rtol=1e-5, atol=1e-6)


def test_yolo_new_coords_leaves_objectness_and_classes_raw(tmp_path):
    network = build(yolo("new_coords=1\n"))
    model, _, _ = loaded(network, tmp_path)
    raw, got = outputs(model, random_input(network))
    np.testing.assert_array_equal(got.reshape(2, 8, -1)[:, 2:], raw.reshape(2, 8, -1)[:, 2:])


def test_yolo_missing_anchor_values_are_half_as_make_yolo_layer_sets_them():
    network = build(yolo(anchors="1,2,3"))
    assert network.layers[1].params_as(YoloParams).anchors == (1.0, 2.0, 3.0, 0.5, 0.5, 0.5)
    assert any("uses 0.5 for the missing" in m for m in messages(network, "warning"))


def test_yolo_mask_past_num_warns_and_takes_the_listed_anchors():
    network = build(yolo(mask="2,3", num=3, anchors="1,2,3,4,5,6,7,8"))
    assert messages(network, "error") == []
    (warning,) = [m for m in messages(network, "warning") if "mask entries 3" in m]
    assert "set num=4" in warning.lower()
    assert network.layers[1].params_as(YoloParams).anchors == (1, 2, 3, 4, 5, 6, 7, 8)


def test_yolo_negative_mask_entry_is_an_error():
    network = build(yolo(mask="-1,0"))
    assert any("mask entry -1 is negative" in m for m in messages(network, "error"))
