"""[softmax]: `softmax_cpu` over `groups` chunks with a temperature, flat output, checked
against numpy and OpenCV."""

from __future__ import annotations

import numpy as np

from tests.core.layers.layer_support import (
    build,
    loaded,
    messages,
    opencv_output,
    outputs,
    random_input,
    softmax,
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
