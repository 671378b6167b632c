"""Convert dialog: format, fold BN, output path; runs in a worker, then checks the result."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from darknet_inspector.core.deploy_formats import (
    FORMAT_BY_EXTENSION,
    format_for_path,
    missing_for_format,
)
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.jobs.convert import (
    ConvertOptions,
    ConvertProgress,
    ConvertResult,
    convert_model,
)
from darknet_inspector.core.network import Network
from darknet_inspector.gui import palette
from darknet_inspector.gui.overwrite import may_write
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.workers import TaskRunner


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    suffix: str
    unavailable: str | None = None  # why it cannot be chosen, or None


FORMATS = (
    ExportFormat("pt", "PyTorch .pt (weights + cfg, loads without the cfg)", ".pt"),
    ExportFormat("pt2", "torch.export .pt2 (load with torch.export.load)", ".pt2"),
    ExportFormat("onnx", "ONNX (opset 17, one named output per head)", ".onnx"),
    ExportFormat("torchscript", "TorchScript (deprecated by PyTorch; prefer .pt2)",
                 ".torchscript.pt"),
)


class ConvertDialog(QDialog):
    """Convert the open model; `log(message, level, details)` reports to the main log."""

    def __init__(self, network: Network, weights: str, settings: AppSettings,
                 log: Callable[..., None], parent=None):
        super().__init__(parent)
        self._confirmed: str | None = None  # a path the save dialog confirmed
        self.setWindowTitle("Convert to PyTorch")
        self.setMinimumWidth(560)
        self.network = network
        self.weights = weights
        self.settings = settings
        self.log = log
        self.runner: TaskRunner | None = None
        self.result: ConvertResult | None = None

        self.format = QComboBox()
        model: QStandardItemModel = self.format.model()  # type: ignore[assignment]
        for fmt in FORMATS:
            unavailable = fmt.unavailable or missing_for_format(fmt.key)
            text = fmt.label if unavailable is None else f"{fmt.label} \u2014 {unavailable}"
            self.format.addItem(text, fmt.key)
            item = model.item(self.format.count() - 1)
            if unavailable:
                item.setEnabled(False)
                item.setToolTip(unavailable)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.fuse = QCheckBox("Fold batch norm into the convolutions (as Darknet does at "
                              "inference)")
        self.fuse.setChecked(self.settings.text("convert/fuse", "0") == "1")
        self.dynamic_batch = QCheckBox("Dynamic batch size (.pt2 and ONNX)")
        self.dynamic_batch.setEnabled(False)
        self.output = QLineEdit(self._default_output())
        self.output.textEdited.connect(self._output_typed)
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.output, 1)
        row.addWidget(browse)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.convert_button = self.buttons.addButton("Convert",
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.convert_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.cancel_button.setEnabled(False)

        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("", self.fuse)
        form.addRow("", self.dynamic_batch)
        form.addRow("Output", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def _default_output(self) -> str:
        stem = os.path.splitext(os.path.basename(self.weights))[0]
        return os.path.join(self.settings.folder("convert")
                            if self.settings.qt.contains("folders/convert")
                            else os.path.dirname(os.path.abspath(self.weights)), stem + ".pt")

    def _format_changed(self) -> None:
        fmt = FORMATS[self.format.currentIndex()]
        stem = self.output.text()
        for known in sorted((f.suffix for f in FORMATS), key=len, reverse=True):
            if stem.endswith(known):
                stem = stem[:-len(known)]
                break
        self.output.setText(stem + fmt.suffix)
        self.dynamic_batch.setEnabled(fmt.key in ("pt2", "onnx"))

    def _output_typed(self, text: str) -> None:
        """A typed extension chooses the format (.onnx -> ONNX), as on the command line."""
        lower = text.strip().lower()
        implied = ("torchscript" if lower.endswith(".torchscript.pt")
                   else FORMAT_BY_EXTENSION.get(os.path.splitext(lower)[1]))
        keys = [f.key for f in FORMATS]
        if implied in keys and keys.index(implied) != self.format.currentIndex():
            self.format.blockSignals(True)
            self.format.setCurrentIndex(keys.index(implied))
            self.format.blockSignals(False)
            self.dynamic_batch.setEnabled(implied in ("pt2", "onnx"))

    def _browse(self) -> None:
        fmt = FORMATS[self.format.currentIndex()]
        path, _ = QFileDialog.getSaveFileName(self, "Save converted model", self.output.text(),
                                              f"{fmt.label} (*{fmt.suffix})")
        if path:
            self.output.setText(path)
            self._confirmed = path  # the save dialog already asked about replacing it

    def start(self) -> None:
        output = self.output.text().strip()
        folder = os.path.dirname(os.path.abspath(output)) if output else ""
        if not output or not os.path.isdir(folder):
            self._say(f"Choose an output file in an existing folder (not {output!r}).", True)
            return
        if not may_write(self, output, self._confirmed):
            self._say(f"Not converted: {os.path.basename(output)} exists and was kept.")
            return
        self.settings.remember_folder("convert", output)
        self.settings.set_text("convert/fuse", "1" if self.fuse.isChecked() else "0")
        fmt = FORMATS[self.format.currentIndex()]
        try:
            format_for_path(output, fmt.key)
        except UsageError as exc:
            self._say(str(exc), True)
            return
        unavailable = missing_for_format(fmt.key)
        if unavailable:
            self._say(unavailable, True)
            return
        options = ConvertOptions(output, self.fuse.isChecked(), fmt.key,
                                 self.dynamic_batch.isEnabled()
                                 and self.dynamic_batch.isChecked())
        network, weights = self.network, self.weights
        self.runner = TaskRunner(lambda: convert_model(network, weights, options), "convert", self)
        self.runner.yielded.connect(self._progress)
        self.runner.returned.connect(self._done)
        self.runner.errored.connect(self._failed)
        self.runner.cancelled.connect(lambda: self._say("Conversion cancelled.", True))
        self.runner.finished.connect(self._finished)
        self.convert_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say("Converting\u2026")
        self.log(f"converting to {output}")
        self.runner.start()

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()

    def _progress(self, step: ConvertProgress) -> None:
        self.progress.setMaximum(step.total)
        self.progress.setValue(step.done)
        self.progress.setFormat(f"{step.step} (%p%)")

    def _done(self, result: ConvertResult) -> None:
        self.result = result
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("done")
        self._say(result.summary())
        self.log(result.summary())

    def _failed(self, message: str, details: str) -> None:
        self._say(f"Conversion failed: {message}", True)
        self.log(f"conversion failed: {message}", "error", details)

    def _finished(self) -> None:
        self.convert_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _say(self, text: str, error: bool = False) -> None:
        palette.show_status(self.status, text, error)

    def reject(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
            self.runner.wait()
        super().reject()
