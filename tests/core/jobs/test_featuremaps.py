"""The feature-maps job on the demo's sample image, checked against `dump`'s arrays of the
same input; the `featuremaps` command; bounded memory and cancellation between layers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from darknet_inspector.core.cli import main
from darknet_inspector.core.demo import demo_files
from darknet_inspector.core.featuremaps import thumbnail_side
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.detect import DetectorKey, build_detector
from darknet_inspector.core.jobs.featuremaps import FeatureMapsRequest, feature_maps
from darknet_inspector.core.network import load_network

DEMO = demo_files()


@pytest.fixture(scope="module")
def detector():
    network = load_network(DEMO.cfg)
    return build_detector(network, DetectorKey(str(DEMO.cfg), str(DEMO.weights), None, "cpu",
                                               None))


@pytest.fixture(scope="module")
def dumped(detector, tmp_path_factory):
    """`dump` run on exactly the input the job feeds the network."""
    folder = tmp_path_factory.mktemp("dump")
    chw, _ = detector.preprocess(str(DEMO.image))
    np.save(folder / "x.npy", chw)
    assert main(["dump", str(DEMO.cfg), str(DEMO.weights), "--input", str(folder / "x.npy"),
                 "-o", str(folder / "out.npz")]) == 0
    return dict(np.load(folder / "out.npz"))


@pytest.fixture(scope="module")
def every_layer(detector):
    layers = set(range(len(detector.model.network.layers)))
    return run_job(feature_maps(FeatureMapsRequest(str(DEMO.image), detector,
                                                   full_layers=layers))).maps


def test_every_layers_output_equals_dumps_array(every_layer, dumped):
    assert len(every_layer.layers) == len(dumped) == 38
    for index, maps in every_layer.layers.items():
        expected = dumped[f"layer_{index:03d}"]
        assert maps.full.shape == expected.shape
        # the job runs the detector's model (BN folded, as `detector test`): ~1e-5
        np.testing.assert_allclose(maps.full, expected, atol=2e-4, rtol=1e-4,
                                   err_msg=f"layer {index}")


def test_stats_and_energy_are_those_of_dumps_arrays(every_layer, dumped):
    for index in (0, 9, 29, 37):
        maps, expected = every_layer.layers[index], dumped[f"layer_{index:03d}"]
        flat = expected.reshape(expected.shape[0], -1)
        np.testing.assert_allclose(maps.stats.mean, flat.mean(axis=1), atol=1e-4)
        np.testing.assert_allclose(maps.stats.maximum, flat.max(axis=1), atol=2e-4)
        np.testing.assert_allclose(maps.energy, (expected ** 2).mean(axis=0), rtol=1e-3,
                                   atol=1e-4)


def test_yolo_heads_give_objectness_per_anchor_from_dumps_channels(every_layer, dumped):
    for index in (30, 37):  # the demo's two [yolo] heads: 3 anchors x (5 + 4 classes)
        maps, expected = every_layer.layers[index], dumped[f"layer_{index:03d}"]
        _, h, w = expected.shape
        assert maps.objectness.shape == (3, h, w)
        np.testing.assert_allclose(maps.objectness, expected.reshape(3, 9, h, w)[:, 4],
                                   atol=1e-4)
    assert every_layer.layers[29].objectness is None  # a conv is not a head


def test_only_the_layers_asked_for_are_kept_in_full(detector):
    maps = run_job(feature_maps(FeatureMapsRequest(str(DEMO.image), detector,
                                                   full_layers={4}))).maps
    assert [i for i, m in maps.layers.items() if m.full is not None] == [4]
    assert maps.layers[2].thumbnails.dtype == np.float16
    thumbs = sum(m.thumbnails.nbytes for m in maps.layers.values())
    assert thumbs <= 64 * 2**20 and maps.kept_bytes < 8 * 2**20


def test_thumbnail_side_fits_the_budget():
    assert thumbnail_side(100_000, 64 * 2**20) == 18
    assert 2 * 100_000 * 18 ** 2 <= 64 * 2**20
    assert thumbnail_side(10) == 64 and thumbnail_side(10**9) == 4


def test_the_job_yields_once_per_layer_so_a_worker_can_cancel_between_layers(detector):
    job = feature_maps(FeatureMapsRequest(str(DEMO.image), detector))
    first = next(job)
    assert (first.layer, first.layers) == (0, 38)
    job.close()  # what a cancelled worker does: no more layers run


def test_featuremaps_command_writes_a_grid_and_a_heatmap(tmp_path, capsys):
    grid, heat = tmp_path / "grid.png", tmp_path / "heat.png"
    args = [str(DEMO.cfg), str(DEMO.weights), str(DEMO.image)]
    assert main(["featuremaps", *args, "--layer", "4", "-o", str(grid), "--sort", "max"]) == 0
    assert "layer 4 [convolutional], 16x40x40" in capsys.readouterr().out
    assert Image.open(grid).size == (4 * 100, 4 * 122)  # 16 tiles, 4 x 4
    assert main(["featuremaps", *args, "--layer", "30", "-o", str(heat), "--heatmap"]) == 0
    picture = Image.open(heat)
    with Image.open(DEMO.image) as image:
        assert picture.size == (3 * image.width, image.height + 16)  # one panel per anchor


def test_featuremaps_command_refuses_a_layer_out_of_range(tmp_path, capsys):
    code = main(["featuremaps", str(DEMO.cfg), str(DEMO.weights), str(DEMO.image),
                 "--layer", "38", "-o", str(tmp_path / "x.png")])
    assert code == 2 and "layers 0..37" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
