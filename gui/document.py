"""The open model as the UI sees it: network, what was read of the weights, the verdict.

Widgets are handed this object and connect to its signals; they keep no model state.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import LayerRecord, Ledger
from darknet_inspector.gui.stats import TensorStats
from darknet_inspector.gui.tasks import StreamResult, StreamStart, StreamUpdate

UNREAD = "unread"
READ_BAD = ("partial", "missing")


@dataclass
class StreamProgress:
    total_bytes: int = 0
    bytes_done: int = 0
    layers_total: int = 0
    layers_done: int = 0


class ModelDocument(QObject):
    """State of one cfg (+ weights); changes are announced by signals."""

    network_changed = Signal()
    weights_cleared = Signal()
    stream_started = Signal()
    layer_updated = Signal(int)
    stream_ended = Signal()
    problems_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cfg_path: str | None = None
        self.cfg_error: str | None = None
        self.network: Network | None = None
        self._reset_weights()

    def _reset_weights(self) -> None:
        self.weights_path: str | None = None
        self.records: dict[int, LayerRecord] = {}
        self.stats: dict[tuple[int, str], TensorStats] = {}
        self.flagged: set[int] = set()  # layers with a tensor whose stats raise a flag
        self._first_bad: int | None = None
        self._error_layers: set[int] | None = None
        self.ledger: Ledger | None = None
        self.header_bytes: int | None = None
        self.stream_state = "none"  # none | streaming | done | cancelled | failed
        self.stream_error: str | None = None
        self.progress = StreamProgress()

    # -- changes --------------------------------------------------------------------------
    def set_network(self, path: str, network: Network) -> None:
        self.cfg_path, self.cfg_error, self.network = path, None, network
        self._reset_weights()
        self.network_changed.emit()
        self.problems_changed.emit()

    def set_cfg_error(self, path: str, message: str) -> None:
        self.cfg_path, self.cfg_error, self.network = path, message, None
        self._reset_weights()
        self.network_changed.emit()
        self.problems_changed.emit()

    def begin_stream(self, path: str) -> None:
        had_weights = self.stream_state != "none"
        self._reset_weights()
        self.weights_path = path
        self.stream_state = "streaming"
        if had_weights:  # a first stream changes nothing shown: no repaint needed
            self.weights_cleared.emit()
        self.stream_started.emit()
        self.problems_changed.emit()

    def stream_sized(self, start: StreamStart) -> None:
        self.progress = StreamProgress(start.total_bytes, 0, start.layers, 0)
        self.stream_started.emit()

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
        self.layer_updated.emit(record.index)

    def finish_stream(self, result: StreamResult) -> None:
        self.ledger = result.ledger
        self._error_layers = None
        self.header_bytes = result.header_bytes
        self.stream_state = "done"
        self.stream_ended.emit()
        self.problems_changed.emit()

    def cancel_stream(self) -> None:
        self.stream_state = "cancelled"
        self.stream_ended.emit()
        self.problems_changed.emit()

    def fail_stream(self, message: str) -> None:
        self.stream_state = "failed"
        self.stream_error = message
        self.stream_ended.emit()
        self.problems_changed.emit()

    # -- questions ------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        return self.network.layers if self.network else []

    def diagnostics(self) -> list[Diagnostic]:
        found = list(self.network.diagnostics) if self.network else []
        if self.ledger is not None:
            found += self.ledger.diagnostics
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

    def tensor_record(self, index: int, name: str):
        record = self.records.get(index)
        if record is None:
            return None
        return next((t for t in record.tensors if t.name == name), None)

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
