"""DarknetModel: a torch module built from a Network, loaded from the weights reader."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers import built_layer_type
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.memory import check_model_memory
from darknet_inspector.core.network import Network, last_uses, load_network
from darknet_inspector.core.report import checked_records
from darknet_inspector.core.torch_layers import build_module
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.convolutional import ConvModule
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsHeader, WeightsReader

# torch's import leaves ~10^5 objects that live as long as the process: frozen, Python's
# full collections stop rescanning them (0.1 s per model built, and pauses in the app)
gc.freeze()


def darknet_module(module: nn.Module) -> DarknetModule:
    """A module of the model as what every layer type builds, a DarknetModule (its
    Darknet-named tensors, loading hooks and layout declaration); TypeError otherwise."""
    if not isinstance(module, DarknetModule):
        raise TypeError(f"{type(module).__name__} is not a DarknetModule")
    return module


def _kept(outputs: list[Tensor | None], index: int) -> Tensor:
    """Layer `index`'s output, held until its last reader ran (`last_uses`)."""
    output = outputs[index]
    if output is None:
        raise RuntimeError(f"the output of layer {index} was freed before its last use")
    return output


class DarknetModel(nn.Module):
    """Runs a Darknet network the way Darknet's `network_predict` does at inference.

    `forward(x)` returns the head outputs (the last layer for a classifier);
    `forward(x, all_outputs=True)` returns every layer's output.

    On CPU, activations flow in channels_last memory (oneDNN's fast convolutions want
    it) through the modules that declare `keeps_layout`; every other module gets plain
    contiguous NCHW inputs, and what `forward` returns is always contiguous. Set
    `channels_last = False` to run everything in NCHW.
    """

    def __init__(self, network: Network):
        super().__init__()
        if not network.complete:
            bad = next(layer for layer in network.layers if not layer.known)
            raise InspectorError(
                f"cannot build a model: layer {bad.index} ([{bad.section.name}], cfg line "
                f"{bad.line}) has errors; fix the cfg first")
        check_model_memory(network)
        self.network = network
        modules = [build_module(layer) for layer in network.layers]
        self.layers = nn.ModuleList(modules)
        self.sources = [tuple(layer.inputs) for layer in network.layers]
        self.heads = list(network.heads)
        self.last_use = last_uses(network)
        for layer, module in zip(network.layers, modules):
            p = layer.params
            if isinstance(p, ConvolutionalParams) and p.share_from is not None:
                source = modules[p.share_from]
                if not (isinstance(module, ConvModule) and isinstance(source, ConvModule)):
                    raise TypeError(f"layer {layer.index}: share_index needs two convolution "
                                    f"modules, not {type(module).__name__} and "
                                    f"{type(source).__name__}")
                module.share(source)
        self.header: WeightsHeader | None = None
        self.channels_last = True
        self.keeps_layout = [module.keeps_layout for module in modules]
        self.flat_as_chw = [len(layer.built_shape) == 3 for layer in network.layers]

    def forward(self, x: Tensor, all_outputs: bool = False) -> list[Tensor]:
        outputs: list[Tensor | None] = [None] * len(self.layers)
        keep = set(self.heads)
        x, nhwc = self._entry_layout(x)
        for index in range(len(self.layers)):
            outputs[index] = self._run_layer(index, x, outputs, nhwc)
            if not all_outputs:
                self._release_inputs(index, outputs, keep)
        if all_outputs:
            return [_kept(outputs, i).contiguous() for i in range(len(outputs))]
        return [_kept(outputs, i).contiguous() for i in self.heads]

    def outputs_in_turn(self, x: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Each layer's output as it is computed, exactly as `forward` computes it (one
        layer per step, so a caller can report progress or stop between layers); an
        output is let go after its last reader, the caller keeps what it needs."""
        outputs: list[Tensor | None] = [None] * len(self.layers)
        x, nhwc = self._entry_layout(x)
        for index in range(len(self.layers)):
            output = self._run_layer(index, x, outputs, nhwc)
            outputs[index] = output
            yield index, output.contiguous()
            self._release_inputs(index, outputs, set())
            if self.last_use[index] == index:
                outputs[index] = None

    def _entry_layout(self, x: Tensor) -> tuple[Tensor, bool]:
        """The input in the memory format the layers run in, and whether that is NHWC."""
        nhwc = self.channels_last and x.dim() == 4 and x.device.type == "cpu"
        return (x.contiguous(memory_format=torch.channels_last) if nhwc else x), nhwc

    def _run_layer(self, index: int, x: Tensor, outputs: list[Tensor | None], nhwc: bool
                   ) -> Tensor:
        """Layer `index` on its sources' outputs (flat ones seen as (N, C, 1, 1) by
        layers with a 3-D output; NCHW for modules that do not keep the layout)."""
        args = [x if j < 0 else _kept(outputs, j) for j in self.sources[index]]
        if self.flat_as_chw[index]:
            args = [a.view(a.shape[0], -1, 1, 1) if a.dim() == 2 else a for a in args]
        if nhwc and not self.keeps_layout[index]:
            args = [a.contiguous() for a in args]
        return self.layers[index](*args)

    def _release_inputs(self, index: int, outputs: list[Tensor | None], keep: set[int]
                        ) -> None:
        """Let go of the outputs whose last reader was layer `index` (except `keep`)."""
        for j in self.sources[index]:
            if j >= 0 and self.last_use[j] == index and j not in keep:
                outputs[j] = None

    def load_records(self, records: Iterable[LayerRecord], transposed: bool = False) -> int:
        """Copy every fully-read tensor into the model; returns how many were loaded."""
        loaded = 0
        for record in records:
            layer = self.network.layers[record.index]
            kind = built_layer_type(layer.type)
            module = darknet_module(self.layers[record.index])
            for tensor in record.tensors:
                if tensor.values is None:
                    continue
                values = kind.stored_to_natural(layer, tensor.name, tensor.values, transposed)
                module.load_darknet(tensor.name, values)
                loaded += 1
        for each in self.layers:
            darknet_module(each).finish_loading()
        return loaded

    def fuse(self, in_place: bool = False) -> DarknetModel:
        """Fold batch norm into the convolutions, as Darknet's detector does. `in_place`:
        into the tensors the model holds (`ConvModule.fuse`), for a caller that keeps
        nothing else of them (the weights it just read for this model alone)."""
        for module in self.layers:
            fuse = getattr(module, "fuse", None)
            if fuse is not None:
                fuse(in_place)
        return self

    def darknet_tensors(self) -> dict[tuple[int, str], Tensor]:
        """Every tensor the weights file stores, keyed (layer index, tensor name)."""
        return {(layer.index, spec.name):
                darknet_module(self.layers[layer.index]).darknet_tensor(spec.name)
                for layer in self.network.layers for spec in layer.weights}


def load_model(cfg_path: str | os.PathLike, weights_path: str | os.PathLike | None = None,
               width: int | None = None, height: int | None = None,
               tree: DarknetTree | None = None) -> tuple[DarknetModel, Ledger | None]:
    """cfg (+ weights) -> an eval-mode model and the weights ledger (`tree`: the tree file
    of a `tree=` layer, core.darknet_tree)."""
    network = load_network(cfg_path, width, height, tree)
    model = DarknetModel(network).eval()
    ledger = None
    if weights_path is not None:
        reader = WeightsReader(network, weights_path, copy=True)
        model.load_records(reader.records(), reader.header.transposed)
        ledger = reader.ledger
        model.header = reader.header
    return model, ledger


def checked_model(network: Network, weights_path: str | os.PathLike,
                  records: list[LayerRecord] | None = None, header: WeightsHeader | None = None,
                  ledger: Ledger | None = None) -> DarknetModel:
    """Read the weights (or take records already read), refuse a model with errors
    (ModelHasErrors), else an eval-mode model loaded with them."""
    records, header = checked_records(network, os.fspath(weights_path), records, header, ledger)
    return model_from_records(network, records, header)


def model_from_records(network: Network, records: list[LayerRecord],
                       header: WeightsHeader | None) -> DarknetModel:
    """An eval-mode model holding the tensors read (core.report.checked_records)."""
    model = DarknetModel(network).eval()
    model.load_records(records, header.transposed if header else False)
    model.header = header
    return model
