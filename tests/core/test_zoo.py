"""Every cfg of the Darknet model zoo: it builds without errors, its shapes are OpenCV's,
random weights survive our writer and reader byte for byte, and every layer's output equals
what OpenCV's Darknet importer computes on the same input and weights.

Nets are run small (their own size when it is at most 128, else the smallest of SIZES at
which they build) with batch 1; the per-cfg work is cached in a module-scoped fixture.
OpenCV gets the same cfg text with only width/height changed and its head thresholds
opened (`opencv_cfg_text`). Where OpenCV cannot load a cfg or computes a feature
differently from Darknet, the comparison is skipped with the feature named; those
features are pinned by hand-computed tests of their layer type instead.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.layers import layer_type
from core.layers.base import Layer, as_chw
from core.model import load_model
from core.network import Network, load_network
from core.weights import LayerRecord, Ledger, WeightsReader, random_weights, write_weights
from tests.conftest import ZOO, zoo_path
from tests.opencv_reference import (
    darknet_layer_names,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
    region_as_opencv,
    yolo_as_opencv,
)

CFG_DIR = ZOO / "cfg"
CFG_NAMES = sorted(p.name for p in CFG_DIR.glob("*.cfg")) if CFG_DIR.is_dir() else ["absent"]
SIZES = (64, 96, 128, 160, 192, 224, 256)
NATIVE_SIZE_LIMIT = 128
RELATIVE_TOLERANCE = 1e-3
OPENCV_SECTIONS = frozenset({
    "convolutional", "connected", "maxpool", "avgpool", "softmax", "route", "dropout", "cost",
    "reorg", "region", "shortcut", "scale_channels", "upsample", "yolo", "crop", "sam",
})
OPENCV_ACTIVATIONS = frozenset({"linear", "leaky", "relu", "mish", "swish", "logistic", "tanh"})
HEADER = struct.pack("<iiiQ", 0, 2, 5, 0)
FULL_RUN = os.environ.get("DARKNET_ZOO_FULL") == "1"
ROUND_TRIP_PARAM_LIMIT = 150_000_000
OPENCV_PARAM_LIMIT = 72_000_000


def size_for(path: Path) -> int | None:
    """None (the cfg's own size) when that is small, else the smallest size it builds at."""
    network = load_network(path)
    if max(network.net.width, network.net.height) <= NATIVE_SIZE_LIMIT:
        return None
    for size in SIZES:
        if not load_network(path, size, size).errors:
            return size
    return None


@cache
def zoo_network(name: str) -> tuple[int | None, Network]:
    path = CFG_DIR / name
    size = size_for(path)
    return size, load_network(path, size, size)


def weights_layout(network: Network) -> tuple:
    """What decides the bytes of a weights file: every tensor, in order, and how it is
    stored (`flipped` convs store theirs transposed)."""
    return tuple((layer.type, layer.weights, layer.params.get("flipped"))
                 for layer in network.layers)


def inference_graph(network: Network) -> tuple:
    """What decides every output: layer types, wiring, shapes, options and weights."""
    return tuple((layer.type, layer.inputs, layer.input_shape, layer.output_shape,
                  layer.weights, repr(sorted(layer.params.items())))
                 for layer in network.layers)


def earlier_twin(name: str, key: Callable[[Network], tuple]) -> str | None:
    """The first zoo cfg before `name` whose network is the same under `key`."""
    mine = key(zoo_network(name)[1])
    for other in CFG_NAMES[:CFG_NAMES.index(name)]:
        if key(zoo_network(other)[1]) == mine:
            return other
    return None


def skip_if_checked_elsewhere(name: str, network: Network, what: str,
                              key: Callable[[Network], tuple], limit: int) -> None:
    """Keep the default run fast: skip a cfg whose network an earlier cfg already covers
    under `key`, or one with more than `limit` parameters (DARKNET_ZOO_FULL=1 runs all)."""
    if FULL_RUN:
        return
    twin = earlier_twin(name, key)
    if twin:
        pytest.skip(f"{what}: same as {twin}, which is checked")
    if network.param_count > limit:
        pytest.skip(f"{what}: {network.param_count / 1e6:.0f}M parameters even at the test "
                    f"size; only with DARKNET_ZOO_FULL=1 (the fast run stops at "
                    f"{limit / 1e6:.0f}M)")


@dataclass
class ZooCase:
    """One cfg at its test size; weights, model and OpenCV net are made when first used."""

    name: str
    path: Path
    size: int | None
    network: Network
    folder: Path

    @cached_property
    def tensors(self) -> dict:
        return random_weights(self.network, seed=0)

    @cached_property
    def weights_path(self) -> Path:
        path = self.folder / (self.path.stem + ".weights")
        write_weights(path, self.network, self.tensors)
        return path

    @cached_property
    def read_back(self) -> tuple[list[LayerRecord], Ledger]:
        reader = WeightsReader(self.network, self.weights_path)
        records = list(reader.records())
        assert reader.ledger is not None
        return records, reader.ledger

    @cached_property
    def opencv_text(self) -> str:
        return opencv_cfg_text(self.path.read_text(), self.size, self.size)

    @cached_property
    def input(self) -> np.ndarray:
        rng = np.random.default_rng(1)
        return rng.uniform(0.0, 1.0, (1, *self.network.input_shape)).astype(np.float32)

    def our_outputs(self) -> list[np.ndarray]:
        """Every layer's output of our model, loaded from the written weights file."""
        model, ledger = load_model(self.path, self.weights_path, self.size, self.size)
        assert ledger is not None and ledger.status == "ok"
        with torch.no_grad():
            outputs = model(torch.from_numpy(self.input), all_outputs=True)
        return [out[0].numpy() for out in outputs]

    def release(self) -> None:
        for name in ("tensors", "read_back"):
            self.__dict__.pop(name, None)
        if "weights_path" in self.__dict__:
            self.weights_path.unlink(missing_ok=True)


@pytest.fixture(scope="module", params=CFG_NAMES)
def case(request, tmp_path_factory) -> Iterator[ZooCase]:
    path = zoo_path("cfg", request.param)
    size, network = zoo_network(request.param)
    folder = tmp_path_factory.mktemp(path.stem)
    zoo_case = ZooCase(request.param, path, size, network, folder)
    yield zoo_case
    zoo_case.release()


# ---- what OpenCV's Darknet importer (4.x) cannot load, or computes unlike Darknet ----

Check = Callable[[Network, Layer], "str | None"]


def _unknown_section(network: Network, layer: Layer) -> str | None:
    if layer.section.name not in OPENCV_SECTIONS:
        return f"OpenCV has no [{layer.section.name}] layer"
    return None


def _unknown_activation(network: Network, layer: Layer) -> str | None:
    activation = layer.section.options.get("activation")
    if activation is not None and activation.value not in OPENCV_ACTIVATIONS:
        return f"OpenCV has no activation={activation.value}"
    return None


def _anchor_count(network: Network, layer: Layer) -> str | None:
    if layer.type in ("yolo", "region"):
        anchors = layer.section.floats("anchors", []) or []
        num = layer.section.int("num", 1)
        if len(anchors) != 2 * num:
            return (f"[{layer.type}] lists {len(anchors) // 2} anchors for num={num}; OpenCV "
                    "asserts they are equal")
    return None


def _adjusting_crop(network: Network, layer: Layer) -> str | None:
    if layer.type == "crop" and not layer.section.int("noadjust", 0):
        return ("[crop] without noadjust=1: OpenCV adds an extra layer for the x*2-1 "
                "adjustment and then hands every later layer the wrong weights")
    return None


def _mismatched_shortcut(network: Network, layer: Layer) -> str | None:
    if layer.type == "shortcut":
        for source in layer.params["sources"]:
            if network.layers[source].output_shape != layer.input_shape:
                return ("[shortcut] adds layers of different shapes; OpenCV's Eltwise "
                        "refuses them")
    return None


def _region_unlike_yolo_v2(network: Network, layer: Layer) -> str | None:
    if layer.type == "region" and layer.params["tree"]:
        return "[region] tree= (YOLO9000): OpenCV's Region layer refuses it"
    if layer.type == "region" and not layer.params["softmax"]:
        return "[region] without softmax=1: OpenCV's Region layer asserts softmax"
    return None


def _dilation(network: Network, layer: Layer) -> str | None:
    if layer.type == "convolutional" and layer.params["dilation"] > 1:
        return "dilation > 1: OpenCV ignores dilation"
    return None


def _stride_xy(network: Network, layer: Layer) -> str | None:
    s = layer.section
    if any(s.has(k) for k in ("stride_x", "stride_y")) and layer.type in (
            "convolutional", "maxpool", "local_avgpool"):
        if (layer.params["stride_x"], layer.params["stride_y"]) != (s.int("stride", 1),) * 2:
            return "stride_x/stride_y: OpenCV reads only stride"
    return None


def _share_index(network: Network, layer: Layer) -> str | None:
    if layer.type == "convolutional" and layer.params["share_from"] is not None:
        return "share_index: OpenCV reads weights for a shared conv instead of sharing them"
    return None


def _xnor(network: Network, layer: Layer) -> str | None:
    if layer.type == "convolutional" and layer.params["xnor"]:
        return "xnor=1: OpenCV ignores it and runs float weights and inputs"
    return None


def _weighted_shortcut(network: Network, layer: Layer) -> str | None:
    if layer.type == "shortcut" and (layer.params["weights_type"]
                                      or len(layer.params["sources"]) > 1):
        return "weighted or multi-input [shortcut]: OpenCV adds only the first from= layer"
    return None


def _softmax_unlike_darknet(network: Network, layer: Layer) -> str | None:
    if layer.type != "softmax":
        return None
    if layer.params["temperature"] != 1.0:
        return "[softmax] temperature: OpenCV ignores it"
    if layer.input_shape is not None and len(layer.input_shape) == 3 and any(
            d > 1 for d in layer.input_shape[1:]):
        return ("[softmax] over a spatial input: OpenCV softmaxes channels per pixel, "
                "Darknet the whole flattened input")
    return None


def _not_runnable(network: Network, layer: Layer) -> str | None:
    if not layer.runnable:
        return f"layer {layer.index} [{layer.section.name}] is shown, not run, by this tool"
    return None


OPENCV_CANNOT_LOAD: tuple[Check, ...] = (
    _unknown_section, _unknown_activation, _anchor_count, _adjusting_crop,
    _mismatched_shortcut, _region_unlike_yolo_v2,
)
OPENCV_COMPUTES_DIFFERENTLY: tuple[Check, ...] = (
    _dilation, _stride_xy, _share_index, _xnor, _weighted_shortcut, _softmax_unlike_darknet,
    _not_runnable,
)


def first_reason(network: Network, checks: tuple[Check, ...]) -> str | None:
    for layer in network.layers:
        for check in checks:
            reason = check(network, layer)
            if reason:
                return f"{reason} (layer {layer.index}, cfg line {layer.line})"
    return None


def skip_unless_opencv_loads(network: Network) -> None:
    reason = first_reason(network, OPENCV_CANNOT_LOAD)
    if reason:
        pytest.skip(f"OpenCV cannot load this cfg: {reason}")


# ---- the tests ----


def test_cfg_builds_without_errors(case: ZooCase):
    """`inspect` on the cfg as shipped (Darknet runs every one of them)."""
    network = load_network(case.path)
    assert [d.message for d in network.errors] == []
    assert network.complete
    assert not case.network.errors, f"errors at test size {case.size}"


def test_random_weights_read_back_exactly(case: ZooCase):
    skip_if_checked_elsewhere(case.name, case.network, "weights round trip", weights_layout,
                              ROUND_TRIP_PARAM_LIMIT)
    records, ledger = case.read_back
    assert ledger.status == "ok"
    assert ledger.expected_bytes == ledger.file_bytes == case.weights_path.stat().st_size
    assert [r.index for r in records] == [layer.index for layer in case.network.layers]
    read = {(t.layer, t.name): t.values for r in records for t in r.tensors}
    assert read.keys() == case.tensors.keys()
    for key, values in case.tensors.items():
        assert read[key].shape == values.shape, key
        assert np.array_equal(read[key], values), f"layer {key[0]} tensor {key[1]} differs"


def test_shapes_match_opencv(case: ZooCase):
    """OpenCV sizes every blob from the cfg and reads weights without checking the stream,
    so a header-only weights buffer is enough for its shape inference."""
    skip_unless_opencv_loads(case.network)
    net = cv2.dnn.readNetFromDarknet(np.frombuffer(case.opencv_text.encode(), np.uint8),
                                     np.frombuffer(HEADER, np.uint8))
    ids, _, out_shapes = net.getLayersShapes([1, *case.input.shape[1:]])
    shape_of = {int(i): tuple(int(d) for d in s[0]) for i, s in zip(ids, out_shapes)}
    names = darknet_layer_names(net)
    assert sorted(names) == [layer.index for layer in case.network.layers]
    for layer in case.network.layers:
        theirs = shape_of[net.getLayerId(names[layer.index])]
        ours = as_chw(layer.output_shape)
        if len(theirs) == 4 and len(layer.output_shape) == 3:
            assert theirs[1:] == ours, f"layer {layer.index} [{layer.type}] line {layer.line}"
        else:
            assert np.prod(theirs) == np.prod(ours), f"layer {layer.index} [{layer.type}]"


def test_outputs_match_opencv(case: ZooCase):
    """Every layer's output (heads as OpenCV's Region layer decodes them) to 1e-3 of the
    layer's largest magnitude, on the same random input and random weights."""
    skip_unless_opencv_loads(case.network)
    reason = first_reason(case.network, OPENCV_COMPUTES_DIFFERENTLY)
    if reason:
        pytest.skip(f"OpenCV computes this cfg unlike Darknet: {reason}")
    skip_if_checked_elsewhere(case.name, case.network, "OpenCV forward", inference_graph,
                              OPENCV_PARAM_LIMIT)
    net = read_opencv_net(case.opencv_text, case.weights_path)
    theirs = opencv_outputs(net, case.input)
    ours = case.our_outputs()
    for layer in case.network.layers:
        expected = theirs[layer.index]
        got = as_opencv(case.network, layer, ours[layer.index]).reshape(expected.shape)
        assert np.isfinite(expected).all(), f"OpenCV output of layer {layer.index} not finite"
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected)[compared_entries(layer, expected)].max())
        assert error <= RELATIVE_TOLERANCE * max(scale, 1e-6), (
            f"layer {layer.index} [{layer.type}] cfg line {layer.line}: max difference "
            f"{error:.3g} against OpenCV (largest magnitude {scale:.3g})")


def _yolo_layout(network: Network, layer: Layer, darknet: np.ndarray) -> np.ndarray:
    p = layer.params
    anchors = [(p["anchors"][2 * m], p["anchors"][2 * m + 1]) for m in p["mask"]]
    return yolo_as_opencv(darknet, anchors, p["classes"], bool(p["new_coords"]),
                          network.net.width, network.net.height)


def _region_layout(network: Network, layer: Layer, darknet: np.ndarray) -> np.ndarray:
    p = layer.params
    _, h, w = layer.output_shape
    anchors = [(p["anchors"][2 * i], p["anchors"][2 * i + 1]) for i in range(p["num"])]
    return region_as_opencv(darknet, h, w, anchors, p["classes"])


OPENCV_HEAD_LAYOUTS = {"yolo": _yolo_layout, "region": _region_layout}


def as_opencv(network: Network, layer: Layer, output: np.ndarray) -> np.ndarray:
    """Our output of one layer as OpenCV lays it out: NCHW as is, a head as Darknet's
    `l.output` (the `dump` contract) decoded the way OpenCV's Region layer decodes it."""
    layout = OPENCV_HEAD_LAYOUTS.get(layer.type)
    if layout is None:
        return output
    return layout(network, layer, layer_type(layer.type).darknet_output(layer, output))


def compared_entries(layer: Layer, expected: np.ndarray) -> np.ndarray:
    """Which entries to compare. OpenCV's importer passes no nms_threshold to [region], so
    its Region layer runs NMS at 0.4 and zeroes the class scores it suppresses."""
    mask = np.ones(expected.shape, dtype=bool)
    if layer.type == "region":
        mask[:, 5:] = expected[:, 5:] != 0
    return mask
