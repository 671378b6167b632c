"""Every cfg of the Darknet model zoo: it builds without errors, its shapes are OpenCV's,
random weights survive our writer and reader byte for byte, and every layer's output equals
what OpenCV's Darknet importer computes on the same input and weights.

Nets are run small (their own size when it is at most 128, else the smallest of SIZES at
which they build) with batch 1; the per-cfg work is cached in a module-scoped fixture.
OpenCV gets the same cfg text with only width/height changed and its head thresholds
opened (`opencv_cfg_text`). Where OpenCV cannot load a cfg the comparison is skipped with
the feature named; where it computes a layer unlike Darknet (dilation, xnor, ...) only the
layers not fed by that layer are compared. Those features are pinned by hand-computed
tests of their layer type instead.

To stay near three minutes on two cores, the weights round trip and the OpenCV forward skip
a cfg whose network an earlier cfg already checks and the largest nets;
DARKNET_ZOO_FULL=1 runs them all (about 7 minutes on a loaded 2-core machine).
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

from darknet_inspector.core.layers.base import Layer, as_chw
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import Network, load_network
from darknet_inspector.core.opencv_dnn import differs_from_darknet
from darknet_inspector.core.verify import taint
from darknet_inspector.core.weights import (
    LayerRecord,
    Ledger,
    WeightsReader,
    random_weights,
    write_weights,
)
from tests.conftest import ZOO, zoo_path
from tests.opencv_reference import (
    as_opencv,
    compared_entries,
    darknet_layer_names,
    first_reason,
    first_unloadable,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
)

CFG_DIR = ZOO / "cfg"
CFG_NAMES = sorted(p.name for p in CFG_DIR.glob("*.cfg")) if CFG_DIR.is_dir() else ["absent"]
SIZES = (64, 96, 128, 160, 192, 224, 256)
NATIVE_SIZE_LIMIT = 128
RELATIVE_TOLERANCE = 1e-3
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
    return tuple((layer.type, layer.weights, isinstance(layer.params, ConvolutionalParams)
                  and layer.params.flipped) for layer in network.layers)


def inference_graph(network: Network) -> tuple:
    """What decides every output: layer types, wiring, shapes, options and weights."""
    return tuple((layer.type, layer.inputs, layer.input_shape, layer.output_shape,
                  layer.weights, repr(layer.params))
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


# ---- where OpenCV's importer is not Darknet: core.opencv_dnn, plus two gaps of ours ----

def _not_runnable(network: Network, layer: Layer) -> str | None:
    if not layer.runnable:
        return f"layer {layer.index} [{layer.section.name}] is shown, not run, by this tool"
    return None


def skip_unless_opencv_loads(network: Network) -> None:
    unloadable = first_unloadable(network)
    if unloadable:
        index, reason = unloadable
        line = network.layers[index].line
        pytest.skip(f"OpenCV cannot load this cfg: {reason} (layer {index}, cfg line {line})")


def skip_unless_we_run_it(network: Network) -> None:
    reason = first_reason(network, (_not_runnable,))
    if reason:
        pytest.skip(reason)


def opencv_differs(network: Network) -> dict[int, str]:
    """Layers whose OpenCV output is not Darknet's. A `share_index` conv stores nothing, but
    OpenCV reads weights for it, so every later layer gets its tensors from the wrong
    offset."""
    differs = {layer.index: reason for layer in network.layers
               if (reason := differs_from_darknet(network, layer))}
    shared = [layer.index for layer in network.layers
              if isinstance(layer.params, ConvolutionalParams)
              and layer.params.share_from is not None]
    for layer in network.layers[min(shared):] if shared else []:
        differs.setdefault(layer.index, "after a share_index conv OpenCV misreads weights")
    return differs


def layers_to_compare(network: Network) -> list[Layer]:
    """Layers neither computed differently by OpenCV nor fed by such a layer; skips the
    test, naming the first such layer, when none is left."""
    differs = opencv_differs(network)
    tainted = taint(network, differs)
    layers = [layer for layer in network.layers
              if layer.index not in differs and layer.index not in tainted]
    if not layers:
        first = min(differs)
        pytest.skip(f"OpenCV computes this cfg unlike Darknet from its first layer: "
                    f"{differs[first]} (layer {first})")
    return layers


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


@pytest.mark.parametrize("at", ["test size", "own size"])
def test_shapes_match_opencv(case: ZooCase, at: str):
    """Every layer's output shape, at the test size and at the cfg's own size."""
    network = case.network if at == "test size" else load_network(case.path)
    skip_unless_opencv_loads(network)
    size = case.size if at == "test size" else None
    shapes = opencv_shapes(opencv_cfg_text(case.path.read_text(), size, size),
                           network.input_shape)
    assert sorted(shapes) == [layer.index for layer in network.layers]
    for layer in network.layers:
        theirs, ours = shapes[layer.index], as_chw(layer.output_shape)
        where = f"layer {layer.index} [{layer.type}] cfg line {layer.line}"
        if len(theirs) == 4 and len(layer.output_shape) == 3:
            assert theirs[1:] == ours, where
        else:
            assert np.prod(theirs) == np.prod(ours), where


def opencv_shapes(cfg_text: str, input_shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """Output shape of every Darknet layer as OpenCV infers it. OpenCV sizes every blob
    from the cfg and reads weights without checking the stream, so a header-only weights
    buffer is enough for its shape inference."""
    net = cv2.dnn.readNetFromDarknet(np.frombuffer(cfg_text.encode(), np.uint8),
                                     np.frombuffer(HEADER, np.uint8))
    ids, _, out_shapes = net.getLayersShapes([1, *input_shape])
    shape_of = {int(i): tuple(int(d) for d in s[0]) for i, s in zip(ids, out_shapes)}
    return {index: shape_of[net.getLayerId(name)]
            for index, name in darknet_layer_names(net).items()}


def test_outputs_match_opencv(case: ZooCase):
    """Every layer's output (heads as OpenCV's Region layer decodes them) to 1e-3 of the
    layer's largest magnitude, on the same random input and random weights; where OpenCV
    computes a layer unlike Darknet (dilation, xnor, ...), only the layers not fed by it."""
    skip_unless_opencv_loads(case.network)
    skip_unless_we_run_it(case.network)
    compared = layers_to_compare(case.network)
    skip_if_checked_elsewhere(case.name, case.network, "OpenCV forward", inference_graph,
                              OPENCV_PARAM_LIMIT)
    net = read_opencv_net(case.opencv_text, case.weights_path)
    theirs = opencv_outputs(net, case.input)
    ours = case.our_outputs()
    for layer in compared:
        expected = theirs[layer.index]
        got = as_opencv(case.network, layer, ours[layer.index]).reshape(expected.shape)
        assert np.isfinite(expected).all(), f"OpenCV output of layer {layer.index} not finite"
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected)[compared_entries(layer, expected)].max())
        assert error <= RELATIVE_TOLERANCE * max(scale, 1e-6), (
            f"layer {layer.index} [{layer.type}] cfg line {layer.line}: max difference "
            f"{error:.3g} against OpenCV (largest magnitude {scale:.3g})")
