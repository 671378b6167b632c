"""[crop] at inference: the centred window, 2x - 1 unless noadjust, checked against
numpy and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
)


def crop(extra: str = "") -> str:
    return ("[crop]\ncrop_height=5\ncrop_width=4\nflip=1\nangle=0\nsaturation=1\n"
            f"exposure=1\nshift=.2\n{extra}")


def test_crop_output_shape_and_no_training_option_warnings():
    network = build(crop(), width=9, height=8, channels=2)
    assert network.diagnostics == []
    assert network.layers[0].output_shape == (2, 5, 4)


@pytest.mark.parametrize("extra, scale, shift", [("", 2.0, -1.0), ("noadjust=1\n", 1.0, 0.0)])
def test_crop_takes_the_centre_and_rescales(tmp_path, extra, scale, shift):
    network = build(crop(extra), width=9, height=8, channels=2)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0]
    top, left = (8 - 5) // 2, (9 - 4) // 2
    np.testing.assert_allclose(got, x[:, :, top:top + 5, left:left + 4] * scale + shift,
                               rtol=1e-6)
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(got, theirs.reshape(got.shape), rtol=1e-6, atol=1e-7)


def test_crop_larger_than_the_input_is_an_error():
    (error,) = messages(build(crop(), width=3, height=8), "error")
    assert "larger than the 3x8 input" in error
