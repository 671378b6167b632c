"""Yolo-Fastest 1.1, a real trained COCO detector, against what real Darknet computed for it
(../shared/zoo/darknet-reference/yolo-fastest-1.1, see its README) and against OpenCV's
Darknet importer.

Tolerance: Darknet (im2col + gemm), OpenCV and PyTorch (oneDNN) sum each conv's products
in different orders, so float32 results drift by a few ulps per layer. Over the 131
layers the measured worst cases, as a fraction of a tensor's largest magnitude, are 2.5e-6
on the raw head convs (7.3e-5 on values up to 29), 8e-6 on the [yolo] outputs, 3e-6 on
the per-layer stats and 5.5e-6 against OpenCV; 3e-5 leaves a 4x margin and stays far
below real bugs (OpenCV without its BN epsilon compensated is 5e-3 off).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.model import DarknetModel, load_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.numpy_engine import NumpyNetwork
from darknet_inspector.core.weights import WeightsReader
from tests.conftest import zoo_path
from tests.opencv_reference import (
    as_opencv,
    compared_entries,
    compensate_bn_epsilon,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
)

PHOTOS = ("dog", "person", "horses")
TOLERANCE = 3e-5
STAT_NAMES = ("mean", "std", "min", "max")


@pytest.fixture(scope="module")
def files() -> tuple[Path, Path]:
    folder = zoo_path("yolo-fastest-1.1")
    return folder / "yolo-fastest-1.1.cfg", folder / "yolo-fastest-1.1.weights"


@pytest.fixture(scope="module")
def fused(files) -> DarknetModel:
    """As Darknet's `detector test` runs it: batch norm folded into the convs."""
    model, _ = load_model(*files)
    return model.fuse()


@pytest.fixture(scope="module")
def unfused(files) -> DarknetModel:
    model, _ = load_model(*files)
    return model


def reference(photo: str) -> tuple[Path, dict, np.ndarray]:
    folder = zoo_path("darknet-reference", "yolo-fastest-1.1", photo)
    index = json.loads((folder / "index.json").read_text())
    x = np.fromfile(folder / "input.f32", "<f4").reshape(index["input"]["shape"])
    return folder, index, x


def darknet_outputs(model: DarknetModel, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output as Darknet's `l.output` holds it (the `dump` contract)."""
    with torch.no_grad():
        outputs = model(torch.from_numpy(x), all_outputs=True)
    return [layer_type(layer.type).darknet_output(layer, out[0].numpy())
            for layer, out in zip(model.network.layers, outputs)]


def test_weights_file_is_consumed_to_the_byte(files):
    cfg, weights = files
    model, ledger = load_model(cfg, weights)
    _, index, _ = reference("dog")
    assert ledger is not None and ledger.status == "ok"
    assert ledger.expected_bytes == ledger.file_bytes == weights.stat().st_size
    assert ledger.diagnostics == []
    assert model.network.param_count == index["learnable_floats"]
    records = WeightsReader(model.network, weights).read_all()
    assert {record.status for record in records} <= {"ok", "none"}


@pytest.mark.parametrize("photo", PHOTOS)
def test_heads_equal_darknet(fused, photo):
    folder, index, x = reference(photo)
    ours = darknet_outputs(fused, x)
    dumped = [entry for entry in index["layers"] if entry["file"]]
    assert [e["index"] for e in dumped] == [120, 121, 129, 130]
    for entry in dumped:
        expected = np.fromfile(folder / entry["file"], "<f4")
        got = ours[entry["index"]].ravel()
        assert got.shape == expected.shape
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected).max())
        assert error <= TOLERANCE * scale, (
            f"layer {entry['index']} [{entry['type']}]: {error:.3g} from Darknet "
            f"(largest magnitude {scale:.3g})")


@pytest.mark.parametrize("photo", PHOTOS)
def test_numpy_engine_heads_equal_darknet(files, photo):
    """The torch-free engine `detect` runs on the CPU (core.numpy_engine) gives Darknet's
    two [yolo] outputs within the same tolerance as the torch model."""
    folder, index, x = reference(photo)
    network = load_network(str(files[0]))
    reader = WeightsReader(network, files[1], copy=True)
    with NumpyNetwork(network, reader.read_all(), reader.header.transposed) as engine:
        outputs = engine.forward(x[0])
    files_of = {e["index"]: e["file"] for e in index["layers"] if e["file"]}
    assert network.heads == [121, 130]
    for head, out in zip(network.heads, outputs):
        layer = network.layers[head]
        expected = np.fromfile(folder / files_of[head], "<f4")
        got = layer_type(layer.type).darknet_output(layer, out).ravel()
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected).max())
        assert error <= TOLERANCE * scale, f"layer {head}: {error:.3g} from Darknet"


@pytest.mark.parametrize("photo", PHOTOS)
def test_every_layer_matches_darknet_shape_and_stats(fused, photo):
    """Shape, mean, std, min and max of every layer's output (index.json), within
    TOLERANCE of the layer's largest magnitude."""
    _, index, x = reference(photo)
    ours = darknet_outputs(fused, x)
    assert len(index["layers"]) == len(fused.network.layers) == len(ours)
    for entry, layer, out in zip(index["layers"], fused.network.layers, ours):
        where = f"layer {entry['index']} [{entry['type']}]"
        assert layer.type == entry["type"], where
        assert out.shape == (entry["out_c"], entry["out_h"], entry["out_w"]), where
        values = out.astype(np.float64)
        stats = dict(mean=values.mean(), std=values.std(), min=values.min(), max=values.max())
        scale = max(abs(entry["min"]), abs(entry["max"]))
        for name in STAT_NAMES:
            assert abs(stats[name] - entry[name]) <= TOLERANCE * scale, (
                f"{where} {name}: ours {stats[name]:.7g}, Darknet {entry[name]:.7g}")


@pytest.mark.parametrize("photo", PHOTOS)
def test_every_layer_equals_opencv(files, unfused, photo):
    """OpenCV gets Darknet's own input tensor and the real weights (its BatchNorm epsilon
    compensated, see `compensate_bn_epsilon`); every layer, heads decoded as its Region
    layer does."""
    cfg, weights = files
    _, _, x = reference(photo)
    data = compensate_bn_epsilon(unfused.network, weights.read_bytes())
    net = read_opencv_net(opencv_cfg_text(cfg.read_text()), data)
    theirs = opencv_outputs(net, x)
    with torch.no_grad():
        ours = unfused(torch.from_numpy(x), all_outputs=True)
    assert sorted(theirs) == [layer.index for layer in unfused.network.layers]
    for layer in unfused.network.layers:
        expected = theirs[layer.index]
        got = as_opencv(unfused.network, layer, ours[layer.index][0].numpy())
        got = got.reshape(expected.shape)
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected)[compared_entries(layer, expected)].max())
        assert error <= TOLERANCE * scale, (
            f"layer {layer.index} [{layer.type}] cfg line {layer.line}: {error:.3g} from "
            f"OpenCV (largest magnitude {scale:.3g})")
