"""Long-running jobs as generators: they call core, yield progress, return a result.

No Qt here: `gui.workers.GeneratorWorker` runs these off the UI thread, turns each
yielded value into a signal and checks its cancel flag between yields.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.export import load_pt, save_pt
from darknet_inspector.core.formats import export_model
from darknet_inspector.core.model import DarknetModel, checked_model
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsReader
from darknet_inspector.gui.stats import TensorStats, tensor_stats


@dataclass
class StreamStart:
    """First thing a weights stream yields: how much there is to read."""

    path: str
    total_bytes: int
    layers: int


@dataclass
class StreamUpdate:
    """One layer read: its record, its tensors' stats, and how far the stream got."""

    record: LayerRecord
    stats: dict[str, TensorStats]
    bytes_done: int
    layers_done: int


@dataclass
class StreamResult:
    ledger: Ledger
    header_bytes: int


def stream_weights(network: Network, path: str
                   ) -> Generator[StreamStart | StreamUpdate, None, StreamResult]:
    """Read a weights file layer by layer (core's reader) with stats for each tensor."""
    # copy=True: no memory map, so a file rewritten meanwhile cannot crash the app
    reader = WeightsReader(network, path, copy=True)
    expected = network.weight_bytes() + reader.header.size if network.complete else None
    total = min(reader.file_bytes, expected) if expected else reader.file_bytes
    yield StreamStart(reader.path, total, len(network.layers))
    done = reader.header.size
    for count, record in enumerate(reader.records(), start=1):
        stats = {t.name: tensor_stats(t.name, t.values)
                 for t in record.tensors if t.values is not None}
        if record.tensors:
            done = min(total, max(done, record.tensors[-1].offset + record.tensors[-1].nbytes))
        yield StreamUpdate(record, stats, done, count)
    assert reader.ledger is not None
    return StreamResult(reader.ledger, reader.header.size)


@dataclass
class ConvertOptions:
    output: str
    fuse: bool = False
    format: str = "pt"  # pt | pt2 | onnx (core.formats)
    dynamic_batch: bool = False


@dataclass
class ConvertProgress:
    step: str
    done: int
    total: int


@dataclass
class ConvertResult:
    output: str
    max_diff: float
    outputs_compared: int
    input_shape: tuple[int, ...]
    fused: bool
    messages: list[str] = field(default_factory=list)
    checked_with: str = ""  # set for pt2/onnx: the runtime that reloaded the file

    def summary(self) -> str:
        if self.checked_with or self.max_diff is None:
            return export_summary(self)
        shape = "x".join(str(d) for d in self.input_shape)
        folded = " (batch norm folded, so differences around 1e-5 are expected)" \
            if self.fused else ""
        return (f"Wrote {self.output}. Reloaded it and ran one forward pass on a random "
                f"1x{shape} input: max |difference| to the in-memory model over "
                f"{self.outputs_compared} output(s) = {self.max_diff:.3g}{folded}.")


def export_summary(result: ConvertResult) -> str:
    """pt2/onnx: what `core.formats` reloaded the file with and how far it was from the
    in-memory model, or why it was not run (e.g. onnxruntime not installed)."""
    notes = " ".join(f"Note: {m}." for m in result.messages)
    if result.max_diff is None:
        return f"Wrote {result.output}, but did not run it: {notes}"
    return (f"Wrote {result.output}. Reloaded it with {result.checked_with} and ran one "
            f"input: max |difference| to the in-memory model over {result.outputs_compared} "
            f"output(s) = {result.max_diff:.3g}. {notes}").strip()


def _forward(model: DarknetModel, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return [out.detach() for out in model(x)]


def convert_model(network: Network, weights: str, options: ConvertOptions
                  ) -> Generator[ConvertProgress, None, ConvertResult]:
    """Load, (fold BN), save .pt, reload it and compare one forward pass."""
    steps = len(network.layers) + 4
    reader = WeightsReader(network, weights, copy=True)
    records: list[LayerRecord] = []
    for record in reader.records():
        records.append(record)
        yield ConvertProgress(f"reading layer {record.index}", len(records), steps)
    model = checked_model(network, weights, records, reader.header, reader.ledger)
    x = torch.from_numpy(np.random.default_rng(0).random(
        (1, *network.input_shape), dtype=np.float32))
    done = len(network.layers)
    yield ConvertProgress("running the in-memory model", done + 1, steps)
    reference = _forward(model, x)
    if options.fuse:
        model.fuse()
    yield ConvertProgress(f"writing {os.path.basename(options.output)}", done + 2, steps)
    if options.format != "pt":
        check = export_model(model, options.output, options.format,
                             dynamic_batch=options.dynamic_batch)
        return ConvertResult(options.output, check.max_abs_diff, len(check.outputs),
                             tuple(network.input_shape), options.fuse, check.notes,
                             check.checked_with)
    save_pt(model, options.output)
    yield ConvertProgress("reloading the written file", done + 3, steps)
    reloaded = load_pt(options.output)
    yield ConvertProgress("running the reloaded model", done + 4, steps)
    outputs = _forward(reloaded, x)
    diff = max((float((a - b).abs().max()) for a, b in zip(reference, outputs)), default=0.0)
    return ConvertResult(options.output, diff, len(outputs), tuple(network.input_shape),
                         options.fuse)


def save_array(values: np.ndarray, path: str) -> Generator[None, None, str]:
    """Write one tensor as .npy, atomically."""
    with atomic_write(path) as out:
        np.save(out, np.asarray(values))
    yield from ()
    return path
