"""core.numpy_layers.yolo against the torch YoloModule: logistic, new_coords, scale_x_y."""

from __future__ import annotations

import pytest

from tests.core.numpy_layers.parity import matches_torch

HEAD = ("[convolutional]\nfilters=21\nsize=1\nactivation={act}\n\n[yolo]\nmask=0,1,2\n"
        "anchors=1,2,3,4,5,6\nclasses=2\nnum=3\n{extra}")


@pytest.mark.parametrize("act,extra", [
    ("linear", ""), ("linear", "scale_x_y=1.2\n"), ("logistic", "new_coords=1\n"),
    ("logistic", "new_coords=1\nscale_x_y=2.0\n"),
])
def test_yolo_head_equals_torch(tmp_path, act, extra):
    ours = matches_torch(HEAD.format(act=act, extra=extra), tmp_path)
    assert ours[0].shape == (21, 12, 12)
