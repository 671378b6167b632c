"""The open model for the widgets: core's `ModelState`, with a Qt signal per change.

Widgets are handed this object, read the state through it (every attribute and question
of `ModelState`) and connect to its signals; they keep no model state.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from darknet_inspector.core.jobs.stream import StreamResult, StreamStart, StreamUpdate
from darknet_inspector.core.model_state import ModelState
from darknet_inspector.core.network import Network

if TYPE_CHECKING:  # imported when a diagnosis runs (issue 15: the app's start)
    from darknet_inspector.core.diagnosis import Finding


def release_elsewhere(box: list[dict]) -> None:
    """Empty the dicts in `box` (its caller holds no other reference to them) on a
    short-lived thread, one entry at a time: the last weights read (258 MB of arrays for
    yolov4) took ~30 ms to free on the UI thread at the start of the next stream, and
    freed in one call (dict.clear) it would hold the GIL as long (issue 15). Plain
    Python objects and arrays only, never Qt objects."""
    threading.Thread(target=_empty, args=(box,), name="release-weights", daemon=True).start()


def _empty(box: list[dict]) -> None:
    for values in box:
        while values:
            values.popitem()  # one layer's arrays freed; the GIL may change hands here
    box.clear()


class ModelDocument(QObject):
    """State of one cfg (+ weights); changes are announced by signals."""

    network_changed = Signal()
    weights_cleared = Signal()
    stream_started = Signal()
    layer_updated = Signal(int)
    stream_ended = Signal()
    problems_changed = Signal()
    diagnosed = Signal()
    reload_requested = Signal()  # a file the model is built with was chosen (its tree file)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = ModelState()

    def __getattr__(self, name: str):
        """Reads go to the state: `doc.network`, `doc.layer_status(i)`, ..."""
        if name == "state":  # not set yet (during construction)
            raise AttributeError(name)
        return getattr(self.state, name)

    # -- changes --------------------------------------------------------------------------
    def set_network(self, path: str, network: Network) -> None:
        self.state.set_network(path, network)
        self.network_changed.emit()
        self.problems_changed.emit()

    def set_cfg_error(self, path: str, message: str) -> None:
        self.state.set_cfg_error(path, message)
        self.network_changed.emit()
        self.problems_changed.emit()

    def begin_stream(self, path: str) -> None:
        read = [self.state.records, self.state.stats]  # the only references, once reset
        if self.state.begin_stream(path):  # a first stream changes nothing shown
            release_elsewhere(read)
            self.weights_cleared.emit()
        self.stream_started.emit()
        self.problems_changed.emit()

    def stream_sized(self, start: StreamStart) -> None:
        self.state.stream_sized(start)
        self.stream_started.emit()

    def apply(self, update: StreamUpdate) -> None:
        self.state.apply(update)
        self.layer_updated.emit(update.record.index)

    def finish_stream(self, result: StreamResult) -> None:
        self.state.finish_stream(result)
        self.stream_ended.emit()
        self.problems_changed.emit()

    def set_findings(self, findings: list[Finding]) -> None:
        self.state.set_findings(findings)
        self.diagnosed.emit()
        self.problems_changed.emit()

    def cancel_stream(self) -> None:
        self.state.cancel_stream()
        self.stream_ended.emit()
        self.problems_changed.emit()

    def fail_stream(self, message: str) -> None:
        self.state.fail_stream(message)
        self.stream_ended.emit()
        self.problems_changed.emit()
