"""[sam] and [scale_channels]: which operand is which, the shape rules Darknet asserts,
and both against numpy and OpenCV."""

from __future__ import annotations

import numpy as np

from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
)

FEATURES = "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"
SE = FEATURES + ("[avgpool]\n\n[convolutional]\nfilters=6\nsize=1\nactivation=logistic\n\n"
                 "[scale_channels]\nfrom=-3\n")
SAM = FEATURES + "[convolutional]\nfilters=6\nsize=1\nactivation=logistic\n\n[sam]\nfrom=-2\n"


def test_scale_channels_scales_each_channel_of_the_from_layer(tmp_path):
    network = build(SE)
    layer = network.layers[3]
    assert layer.output_shape == (6, 8, 8) and layer.inputs == (2, 0)
    model, _, _ = loaded(network, tmp_path)
    features, _, scale, got = outputs(model, random_input(network))
    np.testing.assert_allclose(got, features * scale.reshape(1, 6, 1, 1), rtol=1e-6)


def test_scale_channels_scale_wh_scales_every_channel_by_one_map(tmp_path):
    body = FEATURES + ("[convolutional]\nfilters=1\nsize=1\nactivation=logistic\n\n"
                       "[scale_channels]\nfrom=-2\nscale_wh=1\nactivation=leaky\n")
    network = build(body)
    model, _, _ = loaded(network, tmp_path)
    features, plane, got = outputs(model, random_input(network))
    y = features * plane
    np.testing.assert_allclose(got, np.where(y > 0, y, 0.1 * y), rtol=1e-6)


def test_scale_channels_needs_one_value_per_channel():
    body = FEATURES + "[convolutional]\nfilters=6\nsize=1\n\n[scale_channels]\nfrom=-2\n"
    (error,) = messages(build(body), "error")
    assert "Darknet asserts it is 6x1x1" in error


def test_sam_multiplies_element_by_element(tmp_path):
    network = build(SAM)
    model, _, _ = loaded(network, tmp_path)
    features, attention, got = outputs(model, random_input(network))
    np.testing.assert_allclose(got, features * attention, rtol=1e-6)


def test_sam_shapes_must_agree():
    body = FEATURES + "[convolutional]\nfilters=3\nsize=1\n\n[sam]\nfrom=-2\n"
    (error,) = messages(build(body), "error")
    assert "same shape" in error and "6x8x8" in error and "3x8x8" in error


def test_sam_reads_only_the_first_from_entry():
    network = build(SAM.replace("from=-2", "from=-2,-1"))
    assert network.layers[2].inputs == (1, 0)
    assert any("reads only the first" in m for m in messages(network, "warning"))


def test_sam_and_scale_channels_match_opencv(tmp_path):
    for body in (SE, SAM):
        folder = tmp_path / str(len(body))
        folder.mkdir()
        network = build(body, width=12, height=10)
        model, _, path = loaded(network, folder)
        x = random_input(network)
        ours = outputs(model, x)[-1]
        theirs = opencv_output(network, folder, path, x)
        np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-5, atol=1e-6)
