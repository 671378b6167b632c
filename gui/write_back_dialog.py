"""Back to Darknet: write a converted .pt (or a plain state_dict with its cfg) as a
.weights file Darknet reads, in a worker; the same as `export-weights`."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.jobs.write_back import write_back
from darknet_inspector.core.pt_file import WeightsSource
from darknet_inspector.gui import palette
from darknet_inspector.gui.overwrite import may_write
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.workers import TaskRunner, start_task

MODEL_FILTER = "PyTorch model or state_dict (*.pt *.pth);;All files (*)"


def _path_row(edit: QLineEdit, pick: Callable[[], None]) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    browse = QPushButton("Browse\u2026")
    browse.clicked.connect(pick)
    layout.addWidget(edit, 1)
    layout.addWidget(browse)
    return row


class WriteBackDialog(QDialog):
    """Model file, cfg (only for a plain state_dict; defaults to the open cfg), output."""

    def __init__(self, settings: AppSettings, log: Callable[..., None],
                 cfg: str | None = None, parent=None):
        super().__init__(parent)
        self._confirmed: str | None = None  # a path the save dialog confirmed
        self.setWindowTitle("Export to Darknet .weights")
        self.setMinimumWidth(560)
        self.settings = settings
        self.log = log
        self.runner: TaskRunner | None = None
        self.result: WeightsSource | None = None
        self.model = QLineEdit()
        self.model.setPlaceholderText("a .pt written by Convert, or a state_dict")
        self.cfg = QLineEdit(cfg or "")
        self.cfg.setPlaceholderText("needed only for a plain state_dict")
        self.output = QLineEdit()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.write_button = buttons.addButton("Write",
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.write_button.clicked.connect(self.start)
        close.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow("Model", _path_row(self.model, self._pick_model))
        form.addRow("cfg", _path_row(self.cfg, self._pick_cfg))
        form.addRow("Output", _path_row(self.output, self._pick_output))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.model.textChanged.connect(self._suggest_output)

    def _pick_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Converted model",
                                              self.settings.folder("convert"), MODEL_FILTER)
        if path:
            self.model.setText(path)

    def _pick_cfg(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "cfg of the state_dict",
                                              self.settings.folder("cfg"),
                                              "Darknet cfg (*.cfg);;All files (*)")
        if path:
            self.cfg.setText(path)

    def _pick_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write Darknet weights", self.output.text(),
                                              "Darknet weights (*.weights)")
        if path:
            self.output.setText(path)
            self._confirmed = path  # the save dialog already asked about replacing it

    def _suggest_output(self, model: str) -> None:
        if model and not self.output.isModified():
            self.output.setText(os.path.splitext(model)[0] + ".weights")

    def start(self) -> None:
        model, output = self.model.text().strip(), self.output.text().strip()
        cfg = self.cfg.text().strip() or None
        if not os.path.isfile(model):
            self._say(f"Choose the model file (not {model!r}).", True)
            return
        if not output or not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            self._say(f"Choose an output file in an existing folder (not {output!r}).", True)
            return
        if not may_write(self, output, self._confirmed):
            self._say(f"Not written: {os.path.basename(output)} exists and was kept.")
            return
        self.runner = start_task(self, lambda: write_back(model, output, cfg), "write-back",
                                 step=self._say, done=self._done, failed=self._failed,
                                 button=self.write_button)

    def _done(self, source: WeightsSource) -> None:
        self.result = source
        text = (f"Wrote {self.output.text().strip()} from {source.origin}: "
                f"{len(source.tensors)} tensors, header {source.header.major}."
                f"{source.header.minor}.{source.header.revision}, seen {source.header.seen}.")
        self._say(text)
        self.log(text)

    def _failed(self, message: str, details: str) -> None:
        self._say(f"Not written: {message}", True)
        self.log(f"export to .weights failed: {message}", "error", details)

    def _say(self, text: str, error: bool = False) -> None:
        palette.show_status(self.status, text, error)

    def reject(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.wait()
        super().reject()
