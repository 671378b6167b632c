"""Stream a weights file layer by layer: each layer's record and its tensors' stats and
health flags as it is read. The app shows them as they come; `inspect` reads the same
stream to its end (`read_streamed`)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace

from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.network import Network
from darknet_inspector.core.tensor_stats import TensorStats, tensor_stats
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsReader


@dataclass
class StreamStart:
    """First thing a weights stream yields: how much there is to read."""

    path: str
    total_bytes: int
    layers: int


@dataclass
class StreamUpdate:
    """One layer read: its record, its present tensors' stats, how far the stream got."""

    record: LayerRecord
    stats: dict[str, TensorStats]
    bytes_done: int
    layers_done: int


@dataclass
class StreamResult:
    ledger: Ledger
    header_bytes: int


def stream_weights(network: Network, path: str, copy: bool = True
                   ) -> Generator[StreamStart | StreamUpdate, None, StreamResult]:
    """Read a weights file layer by layer (core's reader) with stats for each tensor.
    Plain reads, never a memory map: a file rewritten meanwhile cannot crash it.
    `copy=True` (the app) also checks the whole model fits the memory limit."""
    reader = WeightsReader(network, path, copy=copy)
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
class Streamed:
    """A whole stream, as the command line takes it."""

    records: list[LayerRecord]
    ledger: Ledger
    flags: dict[tuple[int, str], list[str]]  # (layer, tensor) -> health flags, if read


def read_streamed(network: Network, path: str) -> Streamed:
    """Run `stream_weights` to its end; records keep no values (each tensor is read,
    measured for its flags and let go, so memory stays one tensor deep)."""
    records: list[LayerRecord] = []
    flags: dict[tuple[int, str], list[str]] = {}

    def keep(update: StreamStart | StreamUpdate) -> None:
        if isinstance(update, StreamUpdate):
            record = update.record
            records.append(replace(record, tensors=[replace(t, values=None)
                                                    for t in record.tensors]))
            flags.update({(update.record.index, name): stats.flags
                          for name, stats in update.stats.items()})

    result = run_job(stream_weights(network, path, copy=False), keep)
    return Streamed(records, result.ledger, flags)
