"""The verdict banner: one sentence, impossible to miss, saying what state the model is in."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy

from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument


@dataclass
class Verdict:
    level: str  # info | busy | ok | warning | error
    text: str
    action: tuple[str, str] | None = None  # (button label, action key)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _size(n: int) -> str:
    return f"{n:,} bytes"


def verdict(doc: ModelDocument, sibling_weights: str | None = None) -> Verdict:
    """What the banner says for the document's current state."""
    if doc.cfg_error:
        return Verdict("error", f"Cannot open the cfg: {doc.cfg_error}")
    if doc.network is None:
        return Verdict("info", "Open a Darknet model: File \u2192 Open cfg\u2026, or drop a "
                       ".cfg and its .weights onto this window.", ("Open cfg\u2026", "open-cfg"))
    errors = [d for d in doc.network.diagnostics if d.severity == "error"]
    if doc.stream_state == "streaming":
        p = doc.progress
        size = f" ({p.layers_total} layers, {p.total_bytes:,} bytes)" if p.total_bytes else ""
        return Verdict("busy", f"Reading {os.path.basename(doc.weights_path or '')}{size}: "
                       "each layer fills in as it is read; progress and Cancel are in the "
                       "status bar.")
    top = doc.top_finding() if doc.stream_state == "done" else None
    if top is not None and top.cause != "trailing_bytes":  # that one: the ledger's warning
        return _finding_verdict(doc, top)
    if errors:
        more = f" ({len(errors) - 1} more in Problems)" if len(errors) > 1 else ""
        where = f"Layer {errors[0].layer}: " if errors[0].layer is not None else ""
        return Verdict("error", f"The cfg has {len(errors)} error(s). {where}"
                       f"{_sentence(errors[0].message)}{more}")
    if doc.stream_state == "failed":
        return Verdict("error", f"Could not read the weights: {doc.stream_error}",
                       ("Open weights\u2026", "open-weights"))
    if doc.stream_state == "cancelled":
        p = doc.progress
        return Verdict("warning", f"Reading was cancelled after {p.layers_done} of "
                       f"{p.layers_total} layers; the layers after that were not checked.",
                       ("Read again", "reload-weights"))
    if doc.stream_state == "done" and doc.ledger is not None:
        return _ledger_verdict(doc)
    return _cfg_only_verdict(doc, sibling_weights)


SAVE_FIXED = ("Save fixed cfg as\u2026", "save-fixed-cfg")


def _finding_verdict(doc: ModelDocument, top) -> Verdict:
    """The diagnosis' most likely cause and its fix (a truncation in the ledger's own
    words, which name the tensor and byte); the other causes are counted."""
    where = f"Layer {top.layer}, line {top.line}: " if top.layer is not None else ""
    message = top.message
    if top.cause == "truncated" and doc.ledger is not None:
        ledger_error = next((d for d in doc.ledger.diagnostics if d.severity == "error"), None)
        if ledger_error is not None:
            where, message = "", ledger_error.message
    mark = "verified" if top.verified else "not verified"
    text = f"{where}{_sentence(message)}."
    if top.fix:
        text += f" Fix ({mark}): {top.fix}."
    others = (doc.findings or [])[1:]
    if others:
        named = ", ".join(f"{f.cause}" + (f" at layer {f.layer}" if f.layer is not None else "")
                          for f in others[:2])
        text += f" Also in Problems: {named}."
    # a file that matches the cfg byte for byte and only reads oddly: a warning
    level = "error" if doc.errors() else "warning"
    return Verdict(level, text, SAVE_FIXED if doc.fix_to_save() is not None else None)


def _cfg_only_verdict(doc: ModelDocument, sibling: str | None) -> Verdict:
    net = doc.network
    assert net is not None
    shape = "\u00d7".join(str(d) for d in net.input_shape)
    text = (f"{len(net.layers)} layers, input {shape}, {net.param_count:,} parameters "
            f"({_size(net.weight_bytes())} of weights). ")
    if sibling:
        return Verdict("info", text + f"{os.path.basename(sibling)} lies beside the cfg.",
                       (f"Open {os.path.basename(sibling)}", "open-sibling"))
    return Verdict("info", text + "Open its .weights to check them against the cfg.",
                   ("Open weights\u2026", "open-weights"))


def _ledger_verdict(doc: ModelDocument) -> Verdict:
    ledger = doc.ledger
    assert ledger is not None
    errors = [d for d in ledger.diagnostics if d.severity == "error"]
    if errors:
        text = _sentence(errors[0].message) + "."
        bad = doc.first_bad_layer()
        if bad is not None:
            text += (f" Layer {bad} and everything after it are marked in red; "
                     "what could be read is shown.")
        return Verdict("error", text)
    if not ledger.complete:
        warning = next((d.message for d in ledger.diagnostics), "the layout is unknown")
        return Verdict("warning", _sentence(warning) + ".")
    if ledger.mismatch is not None:  # bytes left over: Darknet ignores them, a warning
        return Verdict("warning", _sentence(ledger.mismatch.message) + ".")
    text = (f"Weights match the cfg: {_size(ledger.file_bytes)}, {len(doc.records)} layers, "
            "every tensor read.")
    if doc.flagged:
        layers = ", ".join(str(i) for i in sorted(doc.flagged)[:8])
        more = "\u2026" if len(doc.flagged) > 8 else ""
        return Verdict("warning", text + f" But some tensors look suspicious (NaN/Inf, dead "
                       f"filters or bad batch-norm variances) in layer(s) {layers}{more}: "
                       "marked \u26a0.")
    return Verdict("ok", text)


class Banner(QFrame):
    """Coloured strip showing a Verdict; its button emits `action` with the action key."""

    action = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("verdictBanner")
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._button = QPushButton()
        policy = self._button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # no relayout (full repaint) when it hides
        self._button.setSizePolicy(policy)
        self._button.clicked.connect(lambda: self.action.emit(self._action_key))
        self._action_key = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._button)
        self.level = "info"
        lines = self._label.fontMetrics().lineSpacing() * 2
        self._base_height = max(lines, self._button.sizeHint().height()) + 16
        self.setMinimumHeight(self._base_height)
        self.show_verdict(Verdict("info", ""))

    def text(self) -> str:
        return self._plain

    def show_verdict(self, v: Verdict, where: str = "") -> None:
        """The verdict, and under it `where` (the open files' paths) in small type."""
        if v.level != self.level or not self.styleSheet():
            background, foreground, border = palette.BANNER_STYLES[v.level]
            self.setStyleSheet(
                f"#verdictBanner {{ background: {background}; border: 1px solid {border}; "
                f"border-radius: 4px; }} #verdictBanner QLabel {{ color: {foreground}; }}")
        self.level = v.level
        self._plain = v.text
        weight = "600" if v.level in ("error", "warning") else "normal"
        self._label.setText(f"<span style='font-weight:{weight}'>{html.escape(v.text)}</span>"
                            + (f"<br><small>{html.escape(where)}</small>" if where else ""))
        self._label.setToolTip(where)
        if v.action:
            self._button.setText(v.action[0])
            self._action_key = v.action[1]
        self._button.setVisible(v.action is not None)
        self._keep_height()

    def _keep_height(self) -> None:
        """Grow to fit the text, never shrink, while one model is open (`reset_height`):
        a change of the banner's height re-lays out the whole window and repaints the
        layer tree, and a stream's verdicts alternate between one and two lines at its
        start and end (two full repaints in the stream's busiest event-loop turn,
        issue 15)."""
        if not self.isVisible():
            return
        needed = self.heightForWidth(self.width())
        if needed > self.minimumHeight():
            self.setMinimumHeight(needed)

    def reset_height(self) -> None:
        """Another model: the banner takes the height its text needs again."""
        self.setMinimumHeight(self._base_height)
        self._keep_height()
