"""A torch-free forward pass: a Network run with numpy (core.numpy_layers), for a process
that runs a model once on CPU and cannot afford torch's import (issue 15: `detect`).

Activations flow as (H, W, C) float32 arrays; convolutions are im2col + sgemm by blocks
of output rows on a small thread pool, OpenBLAS held to one thread while the engine runs
(threadpoolctl) so the two levels of threads do not fight. `forward` returns what
`DarknetModel.forward` returns for batch 1, as (C, H, W) arrays: the same decoders run
on either."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from threadpoolctl import threadpool_limits

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers import built_layer_type
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.memory import check_model_memory
from darknet_inspector.core.network import Network, last_uses
from darknet_inspector.core.numpy_layers import NotCovered, build_step, check_covered
from darknet_inspector.core.numpy_layers.registry import NOT_RUNNABLE, Step, Tensors
from darknet_inspector.core.numpy_layers.rows import RowPool
from darknet_inspector.core.weights import LayerRecord


def _where(layer: Layer) -> str:
    return f"layer {layer.index} ([{layer.section.name}], cfg line {layer.line})"


def numpy_engine_refusal(network: Network) -> str | None:
    """None when the numpy engine runs every layer of `network`; else one line naming the
    first layer it does not, its cfg line and why (no weights needed)."""
    if not network.complete:
        bad = next(layer for layer in network.layers if not layer.known)
        return f"{_where(bad)}: has errors; fix the cfg first"
    if len(network.net.input_shape) != 3:
        return "the network input is flat, not an image"
    for layer in network.layers:
        try:
            check_covered(layer)
        except NotCovered as refused:
            return f"{_where(layer)}: {_with_warning(network, layer, refused.reason)}"
    return None


def _with_warning(network: Network, layer: Layer, reason: str) -> str:
    """A layer this tool does not run: the reason with the network's warning about it."""
    if reason != NOT_RUNNABLE:
        return reason
    warning = next((d.message for d in network.diagnostics if d.layer == layer.index), None)
    return reason if warning is None else f"{reason}: {' '.join(warning.split())}"


def tensor_owner(layer: Layer) -> int:
    """The layer whose tensors `layer` computes with: the shared one for `share_index`
    (`make_convolutional_layer`, src/convolutional_layer.c), else itself."""
    p = layer.params
    if isinstance(p, ConvolutionalParams) and p.share_from is not None:
        return p.share_from
    return layer.index


def natural_tensors(network: Network, records: Iterable[LayerRecord], transposed: bool
                    ) -> dict[int, dict[str, np.ndarray]]:
    """Every fully read tensor by layer and name, in its natural shape (as
    `DarknetModel.load_records` turns them, `stored_to_natural`)."""
    tensors: dict[int, dict[str, np.ndarray]] = {}
    for record in records:
        layer = network.layers[record.index]
        kind = built_layer_type(layer.type)
        for tensor in record.tensors:
            if tensor.values is not None:
                tensors.setdefault(record.index, {})[tensor.name] = kind.stored_to_natural(
                    layer, tensor.name, tensor.values, transposed)
    return tensors


def _complete(layer: Layer, tensors: Tensors, owner: Layer) -> Tensors:
    """`tensors` when they hold every tensor `owner` stores; else an InspectorError."""
    missing = [spec.name for spec in owner.weights if spec.name not in tensors]
    if missing:
        raise InspectorError(f"{_where(layer)}: the weights lack {', '.join(missing)} of "
                             f"layer {owner.index}")
    return tensors


class NumpyNetwork:
    """`network` with the tensors of `records` (core.weights.WeightsReader's), batch norm
    folded, run by numpy steps on `threads` threads (default: the usable CPUs).
    InspectorError when a layer is not covered (`numpy_engine_refusal`) or lacks tensors."""

    def __init__(self, network: Network, records: Iterable[LayerRecord],
                 transposed: bool = False, threads: int | None = None):
        refusal = numpy_engine_refusal(network)
        if refusal is not None:
            raise InspectorError(f"the numpy engine cannot run this model: {refusal}")
        check_model_memory(network)  # as the torch model: refused before allocating
        self.network = network
        self.heads = list(network.heads)
        self.sources = [tuple(layer.inputs) for layer in network.layers]
        self.last_use = last_uses(network)
        self.rows = RowPool(threads)
        tensors = natural_tensors(network, records, transposed)

        def step(layer: Layer) -> Step:
            owner = network.layers[tensor_owner(layer)]
            own = _complete(layer, tensors.get(owner.index, {}), owner)
            return build_step(layer, own, self.rows)

        try:
            self.steps: list[Step] = self.rows.map(step, network.layers)  # folds in parallel
        except BaseException:
            self.rows.close()
            raise

    @property
    def threads(self) -> int:
        return self.rows.threads

    def forward(self, chw: np.ndarray) -> list[np.ndarray]:
        """(3, H, W) float32 (as core.image prepares it) -> the head outputs, (C, H, W)
        float32 each, in `DarknetModel.forward`'s order (the last layer's for a network
        without heads)."""
        c, h, w = self.network.net.input_shape
        if chw.shape != (c, h, w):
            raise InspectorError(f"the input is {'x'.join(map(str, chw.shape))}, the network "
                                 f"takes {c}x{h}x{w}")
        x = np.ascontiguousarray(chw.transpose(1, 2, 0), dtype=np.float32)
        outputs: list[np.ndarray | None] = [None] * len(self.steps)
        keep = set(self.heads)
        with threadpool_limits(1, user_api="blas"):
            for index, step in enumerate(self.steps):
                args = [x if j < 0 else _held(outputs, j) for j in self.sources[index]]
                outputs[index] = step(*args)
                for j in self.sources[index]:
                    if j >= 0 and self.last_use[j] == index and j not in keep:
                        outputs[j] = None
        return [np.ascontiguousarray(_held(outputs, i).transpose(2, 0, 1)) for i in self.heads]

    def close(self) -> None:
        """Stop the worker threads (also when the object is dropped)."""
        self.rows.close()

    def __enter__(self) -> NumpyNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _held(outputs: list[np.ndarray | None], index: int) -> np.ndarray:
    output = outputs[index]
    if output is None:
        raise RuntimeError(f"the output of layer {index} was freed before its last use")
    return output
