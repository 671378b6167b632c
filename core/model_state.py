"""The open model as the app sees it: network, what was read of the weights, the verdict.

A plain record with the questions the views ask; `gui.document.ModelDocument` wraps it
and announces each change with a Qt signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.jobs.stream import StreamResult, StreamStart, StreamUpdate
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network
from darknet_inspector.core.tensor_stats import TensorStats
from darknet_inspector.core.weights import LayerRecord, Ledger, TensorRecord

if TYPE_CHECKING:  # the diagnosis is imported when one runs (the app's start, issue 15)
    from darknet_inspector.core.diagnosis import Finding

UNREAD = "unread"
READ_BAD = ("partial", "missing")
STREAM_STATES = ("none", "streaming", "done", "cancelled", "failed")


@dataclass
class StreamProgress:
    total_bytes: int = 0
    bytes_done: int = 0
    layers_total: int = 0
    layers_done: int = 0


@dataclass
class ModelState:
    """One cfg (+ weights): set by the open/stream steps, read by every view."""

    cfg_path: str | None = None
    cfg_error: str | None = None
    network: Network | None = None
    weights_path: str | None = None
    records: dict[int, LayerRecord] = field(default_factory=dict)
    stats: dict[tuple[int, str], TensorStats] = field(default_factory=dict)
    flagged: set[int] = field(default_factory=set)  # layers with a tensor raising a flag
    ledger: Ledger | None = None
    header_bytes: int | None = None
    stream_state: str = "none"  # one of STREAM_STATES
    stream_error: str | None = None
    progress: StreamProgress = field(default_factory=StreamProgress)
    findings: list[Finding] | None = None  # the diagnosis, once it has run (core.diagnosis)
    _first_bad: int | None = None
    _error_layers: set[int] | None = None

    def reset_weights(self) -> None:
        """Forget everything read from a weights file."""
        self.weights_path = None
        self.records, self.stats, self.flagged = {}, {}, set()
        self._first_bad = self._error_layers = None
        self.ledger = self.header_bytes = None
        self.findings = None
        self.stream_state, self.stream_error = "none", None
        self.progress = StreamProgress()

    # -- changes --------------------------------------------------------------------------
    def set_network(self, path: str, network: Network) -> None:
        self.cfg_path, self.cfg_error, self.network = path, None, network
        self.reset_weights()

    def set_cfg_error(self, path: str, message: str) -> None:
        self.cfg_path, self.cfg_error, self.network = path, message, None
        self.reset_weights()

    def begin_stream(self, path: str) -> bool:
        """Start reading `path`; true when weights were shown before (now cleared)."""
        had_weights = self.stream_state != "none"
        self.reset_weights()
        self.weights_path = path
        self.stream_state = "streaming"
        return had_weights

    def stream_sized(self, start: StreamStart) -> None:
        self.progress = StreamProgress(start.total_bytes, 0, start.layers, 0)

    def apply(self, update: StreamUpdate) -> None:
        record = update.record
        self.records[record.index] = record
        if record.status in READ_BAD and (self._first_bad is None
                                          or record.index < self._first_bad):
            self._first_bad = record.index
        for name, stats in update.stats.items():
            self.stats[(record.index, name)] = stats
            if stats.flags:
                self.flagged.add(record.index)
        self.progress.bytes_done = update.bytes_done
        self.progress.layers_done = update.layers_done

    def finish_stream(self, result: StreamResult) -> None:
        self.ledger = result.ledger
        self._error_layers = None
        self.header_bytes = result.header_bytes
        self.stream_state = "done"

    def set_findings(self, findings: list[Finding]) -> None:
        """The diagnosis of the weights just read: the problems are worded as it found."""
        self.findings = list(findings)
        self._error_layers = None

    def cancel_stream(self) -> None:
        self.stream_state = "cancelled"

    def fail_stream(self, message: str) -> None:
        self.stream_state = "failed"
        self.stream_error = message

    # -- questions ------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return self.network.layers if self.network else []

    def diagnostics(self) -> list[Diagnostic]:
        """The cfg's and the ledger's problems; once diagnosed, worded as the diagnosis
        found (a cfg error the weights contradict gives way to the finding, as in
        `inspect`)."""
        found = list(self.network.diagnostics) if self.network else []
        if self.ledger is not None:
            found += self.ledger.diagnostics
        if self.findings:
            from darknet_inspector.core.report import agreeing_problems  # diagnosis ran

            return agreeing_problems(found, self.ledger, self.findings)
        return found

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics() if d.severity == "error"]

    def layer_status(self, index: int) -> str:
        """ok | partial | missing | none (stores nothing) | unread (not read yet)."""
        layer = self.network.layers[index] if self.network else None
        if layer is None or not layer.weights:
            return "none"
        record = self.records.get(index)
        return record.status if record is not None else UNREAD

    def tensor_record(self, index: int, name: str) -> TensorRecord | None:
        record = self.records.get(index)
        if record is None:
            return None
        return next((t for t in record.tensors if t.name == name), None)

    def needs_diagnosis(self) -> bool:
        """Read to the end, and cfg and weights disagree (or a tensor looks unhealthy):
        worth asking the diagnosis why."""
        if self.stream_state != "done" or self.ledger is None or self.network is None:
            return False
        return bool(self.ledger.mismatch is not None or self.errors() or self.flagged)

    def top_finding(self) -> Finding | None:
        """The most likely cause, once diagnosed."""
        return self.findings[0] if self.findings else None

    def divergent_layer(self) -> int | None:
        """The first layer where cfg and weights disagree, by the most likely cause."""
        top = self.top_finding()
        return top.layer if top is not None else None

    def fix_to_save(self) -> Finding | None:
        """The most likely finding whose fix is a cfg edit (`fixed_cfg`), verified first."""
        edits = [f for f in self.findings or [] if f.fixed_cfg is not None]
        return next((f for f in edits if f.verified), edits[0] if edits else None)

    def first_bad_layer(self) -> int | None:
        """The first layer whose tensors the weights file could not fully supply."""
        return self._first_bad

    def error_layers(self) -> set[int]:
        """Layers named by an error (cached: the tree asks once per painted row)."""
        if self._error_layers is None:
            self._error_layers = {d.layer for d in self.errors() if d.layer is not None}
        return self._error_layers

    def layer_diagnostics(self, index: int) -> list[Diagnostic]:
        return [d for d in self.diagnostics() if d.layer == index]
