"""The numpy engine against the torch model on the same records: random weights written
with our writer and read back with WeightsReader, as `detect` reads them.

Tolerance: numpy (im2col + OpenBLAS sgemm) and torch (oneDNN) sum each conv's products in
different orders and fold batch norm in different operation orders, so float32 results
drift by a few ulps per layer; measured on the zoo cfgs at small sizes the worst head
difference is under 3e-6 of the head's largest magnitude. TOLERANCE (2e-5 of that scale,
plus rtol 1e-4) leaves a wide margin and is still far below any real error (a wrong tap,
channel, activation or padding moves outputs by a sizeable fraction of their scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.network import Network
from darknet_inspector.core.numpy_engine import NumpyNetwork
from darknet_inspector.core.torch_layers.fastconv import never_pack
from darknet_inspector.core.weights import LayerRecord, TensorRecord, WeightsReader
from tests.core.layers.layer_support import build
from tests.helpers import write_random_weights

TOLERANCE = 2e-5
RTOL = 1e-4


def records(network: Network, folder: Path, seed: int = 0) -> tuple[list[LayerRecord], bool]:
    """Random weights for `network`, written to `folder` and read back."""
    path = folder / f"random-{seed}.weights"
    write_random_weights(network, path, seed=seed)
    reader = WeightsReader(network, path, copy=True)
    read = reader.read_all()
    assert reader.ledger is not None and reader.ledger.status == "ok"
    return read, reader.header.transposed


POOL_SIZE = 1_000_003  # prime: consecutive tensors start at different phases


def pooled_records(network: Network, seed: int = 0) -> list[LayerRecord]:
    """Random records without a file, cut from one pool of normal values (fast for the
    zoo's 100M-parameter cfgs): conv weights scaled by 1/sqrt(fan-in), BN scales and
    variances in [0.5, inf), everything else times 0.1."""
    pool = np.random.default_rng(seed).standard_normal(POOL_SIZE, dtype=np.float32)
    position = 0
    result = []
    for layer in network.layers:
        tensors = []
        for spec in layer.weights:
            flat = np.empty(spec.count, np.float32)
            start = 0
            while start < spec.count:
                take = min(spec.count - start, POOL_SIZE - position)
                flat[start:start + take] = pool[position:position + take]
                start, position = start + take, (position + take) % POOL_SIZE
            values = flat.reshape(spec.shape)
            if spec.name.endswith(("scales", "rolling_variance")):
                values = np.abs(values) * np.float32(0.5) + np.float32(0.5)
            elif spec.name.endswith("weights") and len(spec.shape) == 4:
                values *= np.float32(1 / np.sqrt(max(1, int(np.prod(spec.shape[1:])))))
            else:
                values *= np.float32(0.1)
            tensors.append(TensorRecord(layer.index, spec.name, spec.shape, 0, spec.nbytes,
                                        "ok", values))
        result.append(LayerRecord(layer.index, layer.type, layer.line, tensors))
    return result


def torch_heads(network: Network, read: list[LayerRecord], transposed: bool, x: np.ndarray
                ) -> list[np.ndarray]:
    """What DarknetModel gives for batch 1 (fused, eval, inference mode), per head."""
    model = DarknetModel(network).eval()
    model.load_records(read, transposed)
    model.fuse()
    model.channels_last = False  # the same values (DarknetModel's contract), fewer reorders
    never_pack(model)  # one run: packing the weights costs more than it saves
    with torch.inference_mode():
        return [o[0].numpy().copy() for o in model(torch.from_numpy(x)[None])]


def numpy_heads(network: Network, read: list[LayerRecord], transposed: bool, x: np.ndarray,
                threads: int = 2) -> list[np.ndarray]:
    with NumpyNetwork(network, read, transposed, threads=threads) as engine:
        return engine.forward(x)


def random_chw(network: Network, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(network.net.input_shape, dtype=np.float32)


def assert_close(ours: list[np.ndarray], theirs: list[np.ndarray], what: str = "") -> None:
    assert len(ours) == len(theirs), what
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape and a.dtype == np.float32, f"{what} head {i}"
        scale = max(float(np.abs(b).max()), 1e-30)
        error = float(np.abs(a - b).max())
        assert np.allclose(a, b, rtol=RTOL, atol=TOLERANCE * scale), (
            f"{what} head {i}: numpy is {error:.3g} from torch (largest magnitude {scale:.3g})")


def assert_matches_torch(network: Network, folder: Path, seed: int = 0, threads: int = 2
                         ) -> list[np.ndarray]:
    """The numpy engine's head outputs equal the torch model's; returns them."""
    read, transposed = records(network, folder, seed)
    x = random_chw(network, seed + 1)
    ours = numpy_heads(network, read, transposed, x, threads)
    assert_close(ours, torch_heads(network, read, transposed, x))
    return ours


def matches_torch(body: str, folder: Path, width: int = 12, height: int = 12,
                  channels: int = 3, threads: int = 2) -> list[np.ndarray]:
    """A cfg around `body` (core layer tests' `build`) run both ways."""
    network = build(body, width=width, height=height, channels=channels)
    assert network.complete, [d.message for d in network.diagnostics]
    return assert_matches_torch(network, folder, threads=threads)
