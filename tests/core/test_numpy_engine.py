"""core.numpy_engine: the torch-free forward pass against the torch model (every zoo cfg
it accepts, random weights; Yolo-Fastest's real weights), against OpenCV's Darknet
importer, its one-line refusals, and that it never loads torch."""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.network import Network, load_network
from darknet_inspector.core.numpy_engine import NumpyNetwork, numpy_engine_refusal
from darknet_inspector.core.weights import WeightsReader
from tests.conftest import ROOT, ZOO, zoo_path
from tests.core.layers.layer_support import build
from tests.core.numpy_layers.parity import (
    assert_close,
    numpy_heads,
    pooled_records,
    random_chw,
    records,
    torch_heads,
)
from tests.opencv_reference import (
    as_opencv,
    compared_entries,
    compensate_bn_epsilon,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
)

ZOO_SIZES = (64, 128)
"""Small inputs: 64 unless a cfg's routes need more (the P6/P7 families)."""


def _small(cfg: Path) -> Network | None:
    for size in ZOO_SIZES:
        try:
            network = load_network(cfg, size, size)
        except InspectorError:
            continue
        if network.complete and not any(d.severity == "error" for d in network.diagnostics):
            return network
    return None


@lru_cache(maxsize=1)
def _accepted_zoo() -> list[tuple[str, Network]]:
    """The zoo cfgs the engine accepts, one per distinct built network (cfgs that differ
    only in training options run once)."""
    seen: dict[str, str] = {}
    accepted = []
    for cfg in sorted((ZOO / "cfg").glob("*.cfg")):
        network = _small(cfg)
        if network is None or numpy_engine_refusal(network) is not None:
            continue
        signature = repr([(layer.type, layer.params, layer.output_shape, layer.inputs)
                          for layer in network.layers])
        if seen.setdefault(signature, cfg.name) == cfg.name:
            accepted.append((cfg.name, network))
    return accepted


def _zoo_names() -> list[str]:
    return [name for name, _ in _accepted_zoo()] if (ZOO / "cfg").is_dir() else ["(no zoo)"]


@pytest.mark.parametrize("name", _zoo_names())
def test_every_accepted_zoo_cfg_equals_the_torch_model(name):
    zoo_path("cfg")
    network = dict(_accepted_zoo())[name]
    read = pooled_records(network)
    x = random_chw(network)
    assert_close(numpy_heads(network, read, False, x), torch_heads(network, read, False, x),
                 name)


def test_the_zoo_detectors_are_accepted():
    """The detectors issue 15 is about run without torch."""
    zoo_path("cfg")
    names = set(_zoo_names())
    for cfg in ("yolov3.cfg", "yolov4.cfg", "yolov4-tiny.cfg", "yolov4-csp.cfg",
                "yolov7.cfg", "yolov2.cfg", "yolov3-tiny.cfg"):
        assert cfg in names or numpy_engine_refusal(_small(ZOO / "cfg" / cfg)) is None, cfg


# ---------------------------------------------------------------- Yolo-Fastest, real weights

@pytest.fixture(scope="module")
def fastest() -> tuple[Network, list, bool, Path, Path]:
    folder = zoo_path("yolo-fastest-1.1")
    cfg, weights = folder / "yolo-fastest-1.1.cfg", folder / "yolo-fastest-1.1.weights"
    network = load_network(cfg, 192, 192)
    reader = WeightsReader(network, weights, copy=True)
    return network, reader.read_all(), reader.header.transposed, cfg, weights


def test_yolo_fastest_real_weights_equal_the_torch_model(fastest):
    """Depthwise convs, dropout, upsample, route and trained BN statistics (variances near
    1e-5 make folding sensitive) on a real image-like input."""
    network, read, transposed, _, _ = fastest
    assert numpy_engine_refusal(network) is None
    x = random_chw(network, seed=3)
    assert_close(numpy_heads(network, read, transposed, x),
                 torch_heads(network, read, transposed, x), "yolo-fastest")


def test_yolo_fastest_heads_equal_opencv(fastest):
    """OpenCV DNN's Darknet importer on the same file (its BN epsilon compensated, see
    core.opencv_dnn.compensate_bn_epsilon), heads laid out as its Region layer decodes
    them; tolerance as tests/core/test_yolo_fastest.py (3e-5 of the largest magnitude)."""
    pytest.importorskip("cv2")
    network, read, transposed, cfg, weights = fastest
    x = random_chw(network, seed=4)
    ours = numpy_heads(network, read, transposed, x)
    data = compensate_bn_epsilon(network, weights.read_bytes())
    net = read_opencv_net(opencv_cfg_text(cfg.read_text(), 192, 192), data)
    theirs = opencv_outputs(net, x[None], network.heads)
    for index, out in zip(network.heads, ours):
        layer = network.layers[index]
        expected = theirs[index]
        got = as_opencv(network, layer, out).reshape(expected.shape)
        scale = float(np.abs(expected).max())
        error = float(np.abs(got - expected)[compared_entries(layer, expected)].max())
        assert error <= 3e-5 * scale, f"head {index}: {error:.3g} from OpenCV ({scale:.3g})"


# ---------------------------------------------------------------- refusals and contracts

REFUSED = {
    "xnor": ("[convolutional]\nfilters=4\nsize=3\npad=1\nxnor=1\nactivation=leaky\n",
             "layer 0 ([convolutional], cfg line 6): xnor=1"),
    "antialiasing": ("[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nantialiasing=1\n"
                     "activation=leaky\n", "layer 0 ([convolutional], cfg line 6): "
                     "antialiasing=1"),
    "activation": ("[convolutional]\nfilters=4\nsize=1\nactivation=normalize_channels\n",
                   "layer 0 ([convolutional], cfg line 6): activation=normalize_channels"),
    "type": ("[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n\n[connected]\n"
             "output=5\n", "layer 1 ([connected], cfg line 11): no numpy step for "
             "[connected]"),
    "maxpool antialiasing": ("[maxpool]\nsize=2\nstride=2\nantialiasing=1\n",
                             "layer 0 ([maxpool], cfg line 6): antialiasing=1"),
    "region tree": ("[convolutional]\nfilters=12\nsize=1\nactivation=linear\n\n[region]\n"
                    "classes=1\ncoords=4\nnum=2\nanchors=1,1,2,2\ntree=mine.tree\n",
                    "layer 1 ([region], cfg line 11): tree=mine.tree"),
    "binary": ("[convolutional]\nfilters=4\nsize=3\npad=1\nbinary=1\nactivation=leaky\n",
               "layer 0 ([convolutional], cfg line 6): binary=1"),
    "not runnable": ("[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n\n[reorg]\n"
                     "stride=2\n", "layer 1 ([reorg], cfg line 11): not runnable in this "
                     "tool: [reorg] stride=2: the 15x15 input is not a multiple of "
                     "stride=2, so Darknet's reorg_cpu reads or writes past its buffers; "
                     "this layer is not run by this tool"),
    "dontloadscales": ("[convolutional]\nbatch_normalize=1\ndontloadscales=1\nfilters=4\n"
                       "size=1\nactivation=leaky\n",
                       "layer 0 ([convolutional], cfg line 6): dontloadscales=1"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_refusal_names_the_layer_its_line_and_the_option(kind):
    body, expected = REFUSED[kind]
    network = build(body, width=15, height=15)
    assert numpy_engine_refusal(network) == expected
    with pytest.raises(InspectorError, match="numpy engine cannot run"):
        NumpyNetwork(network, [])


def test_a_cfg_with_errors_is_refused_in_one_line():
    network = build("[convolutional]\nfilters=4\nsize=1\n\n[route]\nlayers=-5\n")
    refusal = numpy_engine_refusal(network)
    assert refusal is not None and "layer 1 ([route]" in refusal and "\n" not in refusal


def test_missing_tensors_name_the_layer(tmp_path):
    network = build("[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\n"
                    "activation=mish\n", width=16, height=16)
    read, transposed = records(network, tmp_path)
    read[0].tensors = [t for t in read[0].tensors if t.name != "scales"]
    with pytest.raises(InspectorError, match=r"layer 0 .*lack scales"):
        NumpyNetwork(network, read, transposed)


def test_the_input_must_have_the_network_shape(tmp_path):
    network = build("[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n", width=16,
                    height=16)
    read, transposed = records(network, tmp_path)
    with NumpyNetwork(network, read, transposed) as engine, \
            pytest.raises(InspectorError, match="takes 3x16x16"):
        engine.forward(np.zeros((3, 8, 8), np.float32))


TINY_CFG = ("[net]\nwidth=16\nheight=16\nchannels=3\n\n[convolutional]\nbatch_normalize=1\n"
            "filters=6\nsize=3\npad=1\nactivation=mish\n\n[yolo]\nmask=0\nanchors=1,1\n"
            "classes=1\nnum=1\n")


def test_a_forward_pass_never_imports_torch(tmp_path):
    """The point of the engine (issue 15): build and run a model with torch never loaded."""
    script = (
        "import sys\n"
        "from darknet_inspector.core.numpy_engine import NumpyNetwork\n"
        "from tests.helpers import net_from_text\n"
        "from darknet_inspector.core.weights import WeightsReader\n"
        "from tests.helpers import write_random_weights\n"
        "import numpy as np\n"
        f"net = net_from_text({TINY_CFG!r})\n"
        f"write_random_weights(net, {str(tmp_path / 'w.weights')!r})\n"
        f"reader = WeightsReader(net, {str(tmp_path / 'w.weights')!r})\n"
        "out = NumpyNetwork(net, reader.read_all()).forward(np.zeros((3, 16, 16), np.float32))\n"
        "assert out[0].shape == (6, 16, 16), out[0].shape\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
