"""Verify tab: run the open model on an image (or a random input) and compare every layer
with an independent implementation (OpenCV DNN; CPU vs CUDA when there is a GPU).

One table per reference (chosen in a combo box): max absolute and relative difference per
layer, the first divergent layer in strong red, later divergent ones light red, and the
layers where OpenCV itself is not Darknet in yellow with the reason, so a user is not
misled by them. Double-clicking a row selects that layer in the Layers tab.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.jobs.verify import VerifyProgress, VerifyRequest, verify
from darknet_inspector.core.torch_engine import available_devices
from darknet_inspector.core.verify import (
    AFTER_REFERENCE_DIFFERS,
    DEFAULT_TOLERANCE,
    DIVERGES,
    REFERENCE_DIFFERS,
    Comparison,
    VerifyReport,
)
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.hints import model_hint
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.workers import TaskRunner, start_task

COLUMNS = ("Layer", "Type", "Line", "Max abs diff", "Max rel diff", "Status", "Note")
COL_LAYER, COL_TYPE, COL_LINE, COL_ABS, COL_REL, COL_STATUS, COL_NOTE = range(len(COLUMNS))
PROGRESS_STEPS = 1000
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff);;All files (*)"
EXPLANATION = (
    "Relative difference = largest absolute difference / largest magnitude of the "
    "reference's output for that layer. Yellow rows: OpenCV itself computes that layer "
    "unlike Darknet (dilation, stride_x/stride_y, weighted or multi-input shortcut, ...); "
    "they and the layers fed by them are not counted. OpenCV's batch-norm epsilon (1e-6, "
    "Darknet's is 1e-5) is compensated before it reads the weights.")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def row_colour(comparison: Comparison, status: str, index: int):
    """Strong red for the first divergent layer, light red for later divergent ones,
    yellow where the reference differs from Darknet."""
    first = comparison.first_divergent
    if first is not None and index == first.index:
        return palette.ERROR_STRONG
    if status == DIVERGES:
        return palette.ERROR_LIGHT
    if status in (REFERENCE_DIFFERS, AFTER_REFERENCE_DIFFERS):
        return palette.WARNING_LIGHT
    return None


class VerifyTab(QWidget):
    """Given the document; keeps only the last report it produced."""

    layer_activated = Signal(int)
    report_ready = Signal(object)

    def __init__(self, doc: ModelDocument, settings: AppSettings,
                 log: Callable[..., None], parent=None):
        super().__init__(parent)
        self.doc = doc
        self.settings = settings
        self.log = log
        self.runner: TaskRunner | None = None
        self.report: VerifyReport | None = None

        self.image = QLineEdit()
        self.image.setPlaceholderText("no image: a reproducible random input")
        self.image.setClearButtonEnabled(True)
        browse = QPushButton("Image\u2026")
        browse.clicked.connect(self._browse)
        self.device = QComboBox()
        for name, reason in available_devices():
            self.device.addItem(name if reason is None else f"{name} (unavailable)", name)
            if reason is not None:
                self.device.model().item(self.device.count() - 1).setEnabled(False)
                self.device.setItemData(self.device.count() - 1, reason,
                                        Qt.ItemDataRole.ToolTipRole)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setDecimals(6)
        self.tolerance.setRange(1e-6, 1.0)
        self.tolerance.setSingleStep(1e-4)
        self.tolerance.setValue(DEFAULT_TOLERANCE)
        self.tolerance.setToolTip("relative difference above which a layer counts as "
                                  "divergent")
        self.run_button = QPushButton("Run verification")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)  # the job reports the fraction done
        self.progress.setFormat("%p%")
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self._generation = 0  # bumped when the model changes: older reports are not shown
        self.reference = QComboBox()
        self.reference.currentIndexChanged.connect(self._show_current)
        self.status = QLabel("Open a cfg and its weights, then run the verification.")
        self.status.setWordWrap(True)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        explanation = QLabel(EXPLANATION)
        explanation.setWordWrap(True)
        explanation.setStyleSheet(f"color: {palette.MUTED_TEXT.name()};")

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NOTE, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._row_activated)

        controls = QHBoxLayout()
        controls.addWidget(self.image, 1)
        controls.addWidget(browse)
        controls.addWidget(QLabel("Device"))
        controls.addWidget(self.device)
        controls.addWidget(QLabel("Tolerance"))
        controls.addWidget(self.tolerance)
        controls.addWidget(self.run_button)
        controls.addWidget(self.progress)
        controls.addWidget(self.cancel_button)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Reference"))
        pick.addWidget(self.reference, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addLayout(pick)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(explanation)
        self.doc.network_changed.connect(self.clear)
        self.doc.weights_cleared.connect(self.clear)
        self.model_ready(False)

    def _idle_text(self, ready: bool) -> str:
        if ready:
            return ("Ready: run the verification to compare every layer with OpenCV DNN "
                    "(and CPU with CUDA when there is a GPU).")
        return model_hint(self.doc, "verifying")

    # -- state ----------------------------------------------------------------------------
    def model_ready(self, ready: bool) -> None:
        """The main window says whether a loaded model without errors is open."""
        self.run_button.setEnabled(ready and not self.running)
        self.run_button.setToolTip("" if ready else "open a cfg and weights without errors")
        if self.report is None and not self.running:
            self._say(self._idle_text(ready))

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def clear(self) -> None:
        """The model changed: no row computed from the old one stays on screen, and a
        verification of the old one stops at its next step."""
        self._generation += 1
        self.cancel()
        self.report = None
        self.reference.clear()
        self.table.setRowCount(0)
        self.note.setText("")
        self._say(self._idle_text(False))

    def cancel(self) -> None:
        if self.running:
            self.runner.cancel()

    def _browse(self) -> None:
        start = self.image.text() or self.settings.folder("image")
        path, _ = QFileDialog.getOpenFileName(self, "Verify on image", start, IMAGE_FILTER)
        if path:
            self.image.setText(path)

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        network, weights = self.doc.network, self.doc.weights_path
        if network is None or not weights or self.running:
            return
        image = self.image.text().strip() or None
        if image is not None and not os.path.isfile(image):
            self._say(f"No such image: {image}", error=True)
            return
        request = VerifyRequest(network, weights, image, self.tolerance.value(),
                                self.device.currentData() or "cpu")
        self.log(f"verifying {os.path.basename(weights)} layer by layer")
        self.clear()
        generation = self._generation

        def current(callback: Callable) -> Callable:
            """`callback`, for this run only: a run of a replaced model says nothing."""
            return lambda *args: callback(*args) if generation == self._generation else None

        self.runner = start_task(
            self, lambda: verify(request), "verify", step=current(self._progress),
            done=current(self.show_report), failed=current(self._failed),
            button=self.run_button)
        self.runner.cancelled.connect(current(self._cancelled))
        self.runner.finished.connect(self._ended)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.setEnabled(True)

    def _progress(self, record: VerifyProgress) -> None:
        self.progress.setValue(round(record.fraction * PROGRESS_STEPS))
        self.progress.setToolTip(record.text)
        self._say(f"Verifying: {record.text}\u2026")

    def _cancelled(self) -> None:
        self._say("Verification cancelled.")
        self.log("verification cancelled")

    def _ended(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)

    def _failed(self, message: str, details: str) -> None:
        self._say(f"Verification failed: {message}", error=True)
        self.log(f"verification failed: {message}", "error", details)

    def shutdown(self) -> None:
        if self.running:
            self.runner.cancel()
            self.runner.wait()

    # -- showing --------------------------------------------------------------------------
    def show_report(self, report: VerifyReport) -> None:
        self.report = report
        self.reference.blockSignals(True)
        self.reference.clear()
        for comparison in report.comparisons:
            state = "" if comparison.available else " (not run)"
            self.reference.addItem(f"{comparison.reference}, ours on {comparison.device}"
                                   f"{state}")
        ran = [i for i, c in enumerate(report.comparisons) if c.available]
        self.reference.setCurrentIndex(ran[0] if ran else 0)
        self.reference.blockSignals(False)
        self._show_current()
        summary = self._summary(report)
        self._say(summary, error=report.diverges or not report.ran)
        self.log(summary, "warning" if report.diverges else "info")
        self.report_ready.emit(report)

    @staticmethod
    def _summary(report: VerifyReport) -> str:
        if not report.ran:
            return "Nothing to compare against: " + "; ".join(c.note for c in report.comparisons)
        parts = []
        for c in report.ran:
            first = c.first_divergent
            parts.append(f"{c.reference}: " + (
                "every layer agrees" if first is None else
                f"first divergent layer {first.index} ([{first.type}], cfg line {first.line})"))
        return f"Input: {report.input}. " + "; ".join(parts) + "."

    def _show_current(self) -> None:
        if self.report is None or self.reference.currentIndex() < 0:
            return
        comparison = self.report.comparisons[self.reference.currentIndex()]
        self.note.setText(comparison.note if not comparison.available else "")
        self.table.setRowCount(len(comparison.layers))
        for r, row in enumerate(comparison.layers):
            texts = (str(row.index), row.type, str(row.line), _number(row.max_abs),
                     _number(row.max_rel), row.status, row.note)
            colour = row_colour(comparison, row.status, row.index)
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if column in (COL_LAYER, COL_LINE, COL_ABS, COL_REL):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if colour is not None:
                    item.setBackground(colour)
                if row.note:
                    item.setToolTip(row.note)
                self.table.setItem(r, column, item)
        first = comparison.first_divergent
        if first is not None:
            self.table.scrollToItem(self.table.item(first.index, 0),
                                    QAbstractItemView.ScrollHint.PositionAtCenter)

    def _row_activated(self, row: int, _column: int) -> None:
        item = self.table.item(row, COL_LAYER)
        if item is not None:
            self.layer_activated.emit(int(item.text()))

    def _say(self, text: str, error: bool = False) -> None:
        palette.show_status(self.status, text, error)
