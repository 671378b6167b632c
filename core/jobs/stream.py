"""Stream a weights file layer by layer: each layer's record and its tensors' stats and
health flags as it is read. The app shows them as they come; `inspect` reads the same
stream to its end (`read_streamed`)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace

from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.network import Network
from darknet_inspector.core.stats_process import LayerPlan, LayerStats, StatsChild
from darknet_inspector.core.tensor_stats import TensorStats, tensor_stats
from darknet_inspector.core.weights import (
    FLOAT,
    LayerRecord,
    Ledger,
    WeightsReader,
    tensor_offsets,
)


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


def stream_weights(network: Network, path: str, copy: bool = True,
                   child: StatsChild | None = None
                   ) -> Generator[StreamStart | StreamUpdate, None, StreamResult]:
    """Read a weights file layer by layer (core's reader) with stats for each tensor.
    Plain reads, never a memory map: a file rewritten meanwhile cannot crash it.
    `copy=True` (the app) also checks the whole model fits the memory limit.
    With a `child` (the app), the stats are measured there (`core.stats_process`: this
    process's GIL stays free for its UI thread); the job closes it when it ends."""
    try:
        reader = WeightsReader(network, path, copy=copy)
        expected = network.weight_bytes() + reader.header.size if network.complete else None
        total = min(reader.file_bytes, expected) if expected else reader.file_bytes
        plan = stats_plan(network, reader) if child is not None else []
        measured = ChildStats(child, reader.path, plan) if child is not None else None
        yield StreamStart(reader.path, total, len(network.layers))
        done = reader.header.size
        for count, record in enumerate(reader.records(), start=1):
            read = [t for t in record.tensors if t.values is not None]
            theirs = measured.layer(record.index) if measured and read else {}
            stats = {t.name: theirs.get(t.name) or tensor_stats(t.name, t.values)
                     for t in read if t.values is not None}
            if record.tensors:
                done = min(total, max(done, record.tensors[-1].offset
                                      + record.tensors[-1].nbytes))
            yield StreamUpdate(record, stats, done, count)
        if child is not None and measured is not None and measured.finish():
            StatsChild.recycle(child)
            child = None
    finally:
        if child is not None:
            child.close()
    assert reader.ledger is not None
    return StreamResult(reader.ledger, reader.header.size)


def stats_plan(network: Network, reader: WeightsReader) -> list[LayerPlan]:
    """The tensors `reader` will find whole in its file (the ones it reads), by layer."""
    offsets = tensor_offsets(network, reader.header.size)
    plan: list[LayerPlan] = []
    for layer in network.layers:
        tensors = [(spec.name, offsets[key], spec.shape) for spec in layer.weights
                   if (key := (layer.index, spec.name)) in offsets
                   and offsets[key] + spec.nbytes <= reader.file_bytes]
        if tensors:
            plan.append((layer.index, tensors))
    return plan


class ChildStats:
    """A child's replies for one stream, taken layer by layer in the reader's order. Any
    trouble with the child (it did not start, died, stopped early) leaves a layer's
    dict empty, and the stream measures that layer itself."""

    def __init__(self, child: StatsChild, path: str, plan: list[LayerPlan]):
        self._replies: Iterator[LayerStats] | None = None
        self._next: LayerStats | None = None
        self.ended = False  # the child's end mark came: it is idle again
        try:
            child.request(path, FLOAT.str, plan)
            self._replies = child.replies()
        except (OSError, ValueError):
            pass

    def _peek(self) -> LayerStats | None:
        if self._next is None and self._replies is not None:
            try:
                self._next = next(self._replies)
            except StopIteration:
                self._replies, self.ended = None, True
            except (EOFError, OSError, ValueError):  # ProtocolError is a ValueError
                self._replies = None
        return self._next

    def layer(self, index: int) -> dict[str, TensorStats]:
        while (item := self._peek()) is not None:
            if item[0] > index:  # the child has nothing for this one
                return {}
            self._next = None
            if item[0] == index:
                return item[1]
        return {}

    def finish(self) -> bool:
        """Read what is left up to the child's end mark; True when it came (the child
        can measure another stream)."""
        while self._peek() is not None:
            self._next = None
        return self.ended


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
