"""Small builders for layer tests: a cfg around a body, a loaded model, numpy outputs,
and the same model through OpenCV's Darknet importer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import (
    WeightsHeader,
    WeightsReader,
    random_weights,
    write_weights,
)
from tests.helpers import net_from_text


def cfg(body: str, width: int = 8, height: int = 8, channels: int = 3) -> str:
    return f"[net]\nwidth={width}\nheight={height}\nchannels={channels}\n\n{body}"


def build(body: str, tree: DarknetTree | None = None, **size) -> Network:
    return net_from_text(cfg(body, **size), tree=tree)


def messages(network: Network, severity: str | None = None) -> list[str]:
    return [d.message for d in network.diagnostics if severity in (None, d.severity)]


def layout(network: Network, index: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(spec.name, spec.shape) for spec in network.layers[index].weights]


def loaded(network: Network, folder: Path, seed: int = 0,
           header: WeightsHeader | None = None) -> tuple[DarknetModel, dict, Path]:
    """A model loaded from random weights written to `folder`; returns the tensors too."""
    path = folder / "model.weights"
    tensors = random_weights(network, seed)
    write_weights(path, network, tensors, header)
    model = DarknetModel(network).eval()
    reader = WeightsReader(network, path)
    model.load_records(reader.records(), reader.header.transposed)
    assert reader.ledger is not None and reader.ledger.status == "ok"
    return model, tensors, path


def outputs(model: DarknetModel, x: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        result = model(torch.from_numpy(np.asarray(x, dtype=np.float32)), all_outputs=True)
    return [r.numpy() for r in result]


def random_input(network: Network, batch: int = 1, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (batch, *network.input_shape)).astype(np.float32)


def opencv_output(network: Network, folder: Path, weights: Path, x: np.ndarray) -> np.ndarray:
    """The network's last output as OpenCV's Darknet importer computes it."""
    import cv2

    cfg_path = folder / "model.cfg"
    cfg_path.write_text(network.cfg.text)
    net = cv2.dnn.readNetFromDarknet(str(cfg_path), str(weights))
    net.setInput(np.ascontiguousarray(x, dtype=np.float32))
    return net.forward()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def darknet_softmax_tree(values: np.ndarray, group_sizes, temperature: float = 1.0
                         ) -> np.ndarray:
    """Our own transcription of `forward_softmax_layer` with `l.softmax_tree`
    (src/softmax_layer.c) for one sample: `softmax` (src/blas.c) on each group of
    consecutive values in turn, float32 as in C (exp in double, stored as float)."""
    x = np.asarray(values, dtype=np.float32).ravel()
    out = np.zeros_like(x)
    t = np.float32(temperature)
    count = 0
    for size in group_sizes:
        group = x[count:count + size]
        largest = np.float32(-np.finfo(np.float32).max)
        for v in group:
            if v > largest:
                largest = v
        total = np.float32(0)
        for i, v in enumerate(group):
            e = np.float32(np.exp(np.float64(v / t - largest / t)))
            total = np.float32(total + e)
            out[count + i] = e
        out[count:count + size] /= total
        count += size
    return out


def refusal_without_tree(network: Network, folder: Path) -> str:
    """What running a network whose `tree=` layer has no tree file says (InspectorError)."""
    import pytest

    from darknet_inspector.core.errors import InspectorError

    model, _, _ = loaded(network, folder)
    with pytest.raises(InspectorError) as caught:
        outputs(model, random_input(network))
    return str(caught.value)


def tree_refusal_text(index: int, kind: str, line: int) -> str:
    return (f"layer {index} ([{kind}], cfg line {line}: tree=data/9k.tree) needs its tree "
            "file to run: give it with --tree FILE (in the app: Tree file\u2026 in the "
            "Detection preview tab)")
