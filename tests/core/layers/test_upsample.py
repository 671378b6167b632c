"""[upsample]: nearest-neighbour copies with a scale, and a negative stride that sums
stride x stride blocks (`upsample_cpu` run backwards)."""

from __future__ import annotations

import numpy as np

from tests.core.layers.layer_support import build, loaded, opencv_output, outputs, random_input


def test_upsample_repeats_each_pixel_and_scales(tmp_path):
    network = build("[upsample]\nstride=3\nscale=0.5\n", width=4, height=3)
    assert network.layers[0].output_shape == (3, 9, 12)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)
    got = outputs(model, x)[0]
    np.testing.assert_allclose(got, 0.5 * x.repeat(3, axis=2).repeat(3, axis=3), rtol=1e-6)


def test_negative_stride_sums_blocks(tmp_path):
    network = build("[upsample]\nstride=-2\nscale=2\n", width=6, height=4)
    assert network.layers[0].output_shape == (3, 2, 3)
    model, _, _ = loaded(network, tmp_path)
    x = random_input(network)[0]
    got = outputs(model, x[None])[0][0]
    want = np.zeros((3, 2, 3))
    for k in range(3):
        for j in range(4):
            for i in range(6):
                want[k, j // 2, i // 2] += 2 * x[k, j, i]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_upsample_matches_opencv(tmp_path):
    body = "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n\n[upsample]\nstride=2\n"
    network = build(body, width=5, height=4)
    model, _, path = loaded(network, tmp_path)
    x = random_input(network)
    ours = outputs(model, x)[1]
    theirs = opencv_output(network, tmp_path, path, x)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=1e-6, atol=1e-6)
