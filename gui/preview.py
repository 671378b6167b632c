"""Detection preview tab: image, device, input mode, thresholds, boxes and timing.

The network runs in a worker once per image; moving a slider only re-filters the cached
candidates (also in a worker, the newest request wins).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.detect import available_devices
from darknet_inspector.core.jobs.detect import (
    DetectorKey,
    DetectOutcome,
    DetectRequest,
    Drawn,
    detect,
    refilter,
)
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.workers import TaskRunner

INPUT_MODES = (("As the cfg says", None), ("Stretch (Darknet resize_image)", False),
               ("Letterbox", True))
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff);;All files (*)"
FILTER_DELAY_MS = 40


def default_image() -> str | None:
    """The bundled sample image, when this install has it."""
    try:
        from darknet_inspector.core.demo import demo_files
    except ImportError:
        return None
    image = demo_files().image
    return str(image) if image.is_file() else None


def guess_names(cfg_path: str | None) -> str | None:
    """`model.names` beside `model.cfg`, else the only .names file in that folder."""
    if not cfg_path:
        return None
    stem = os.path.splitext(cfg_path)[0] + ".names"
    if os.path.isfile(stem):
        return stem
    found = glob.glob(os.path.join(os.path.dirname(cfg_path) or ".", "*.names"))
    return found[0] if len(found) == 1 else None


def rgb_to_qimage(rgb) -> QImage:
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ImageView(QWidget):
    """Paints one picture scaled to fit, aspect ratio kept."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.placeholder = "Open or drop an image."
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self.pixmap = QPixmap.fromImage(image) if image is not None else None
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.white)
        if self.pixmap is None or self.pixmap.isNull():
            painter.setPen(palette.MUTED_TEXT)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        size = self.pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(QRectF(x, y, size.width(), size.height()), self.pixmap,
                           QRectF(self.pixmap.rect()))


def _slider(value: float) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(1, 99)
    slider.setValue(round(100 * value))
    return slider


class PreviewTab(QWidget):
    """Handed the document, the settings and a log function."""

    shown = Signal()  # a drawn result (or an error) is on screen

    def __init__(self, document: ModelDocument, settings: AppSettings,
                 log: Callable[..., None], parent=None):
        super().__init__(parent)
        self.doc = document
        self.settings = settings
        self.log = log
        self.ready = False
        self.image_path: str | None = None
        self.names_path: str | None = None
        self.outcome: DetectOutcome | None = None
        self.detections: list = []
        self.error: str | None = None
        self.runner: TaskRunner | None = None
        self._pending: str | None = None
        self._stale = True
        self.run_when_ready = False  # run as soon as a model is ready, even while hidden
        self._build()
        document.network_changed.connect(self._model_changed)
        document.weights_cleared.connect(self._model_changed)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(lambda: self._request("filter"))
        image = default_image()
        if image:
            self.open_image(image, run=False)

    # -- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        self.view = ImageView()
        self.image_label = QLabel("no image")
        self.image_label.setWordWrap(True)
        open_image = QPushButton("Open image\u2026")
        open_image.clicked.connect(self.ask_image)
        self.names_label = QLabel("class ids (no names file)")
        self.names_label.setWordWrap(True)
        choose_names = QPushButton("Names\u2026")
        choose_names.clicked.connect(self.ask_names)
        self.device = QComboBox()
        model: QStandardItemModel = self.device.model()  # type: ignore[assignment]
        for name, reason in available_devices():
            label = name.upper() if name == "cpu" else name
            self.device.addItem(label if reason is None else f"{label} (not available)", name)
            if reason:
                item = model.item(self.device.count() - 1)
                item.setEnabled(False)
                item.setToolTip(reason)
                item.setData(reason, Qt.ItemDataRole.UserRole + 1)
        self.device.currentIndexChanged.connect(self._device_changed)
        self.device_note = QLabel()
        self.device_note.setWordWrap(True)
        self.device_note.setStyleSheet(f"color: {palette.ERROR_TEXT.name()};")
        self.device_note.hide()
        self.input_mode = QComboBox()
        for label, _ in INPUT_MODES:
            self.input_mode.addItem(label)
        self.input_mode.setCurrentIndex(int(self.settings.number("preview/input", 0)))
        self.input_mode.currentIndexChanged.connect(self._input_changed)
        self.conf = _slider(self.settings.number("preview/conf", 0.25))
        self.nms = _slider(self.settings.number("preview/nms", 0.45))
        self.conf_label, self.nms_label = QLabel(), QLabel()
        for slider in (self.conf, self.nms):
            slider.valueChanged.connect(self._thresholds_changed)
        self.agnostic = QCheckBox("NMS across classes")
        self.agnostic.toggled.connect(self._thresholds_changed)
        self.run_button = QPushButton("Run detection")
        self.run_button.clicked.connect(self.run)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "Confidence", "Box (x1, y1, x2, y2)"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch)

        form = QFormLayout()
        form.addRow(self._row(self.image_label, open_image))
        form.addRow(self._row(self.names_label, choose_names))
        form.addRow("Device", self.device)
        form.addRow("", self.device_note)
        form.addRow("Input", self.input_mode)
        form.addRow(self._caption("Confidence", self.conf_label), self.conf)
        form.addRow(self._caption("NMS IoU", self.nms_label), self.nms)
        form.addRow("", self.agnostic)
        panel = QWidget()
        panel.setFixedWidth(400)
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(self.run_button)
        column.addWidget(self.status)
        column.addWidget(self.table, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(panel)
        self._show_thresholds()
        self.model_ready(False)

    @staticmethod
    def _row(label: QLabel, button: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(label, 1)
        row.addWidget(button)
        return row

    @staticmethod
    def _caption(text: str, value: QLabel) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel(text))
        row.addWidget(value)
        return box

    # -- inputs ---------------------------------------------------------------------------
    @property
    def conf_value(self) -> float:
        return self.conf.value() / 100

    @property
    def nms_value(self) -> float:
        return self.nms.value() / 100

    def ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.settings.folder("image"),
                                              IMAGE_FILTER)
        if path:
            self.open_image(path)

    def ask_names(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names", self.settings.folder("names"),
                                              "Names (*.names *.txt);;All files (*)")
        if path:
            self.set_names(path)

    def open_image(self, path: str, run: bool = True) -> None:
        self.image_path = os.fspath(path)
        self.settings.remember_folder("image", self.image_path)
        self.image_label.setText(os.path.basename(self.image_path))
        self.image_label.setToolTip(self.image_path)
        self.outcome = None
        self._stale = True
        image = QImage(self.image_path)
        self.view.set_image(None if image.isNull() else image)
        if run and self.ready:
            self.run()

    def set_names(self, path: str | None) -> None:
        self.names_path = os.fspath(path) if path else None
        if path:
            self.settings.remember_folder("names", self.names_path)
        self.names_label.setText(os.path.basename(self.names_path) if self.names_path
                                 else "class ids (no names file)")
        self._invalidate()

    def select_device(self, name: str) -> bool:
        """Choose a device by name (cpu, cuda, cuda:N); False (and the reason shown) when
        it is not available here."""
        for row in range(self.device.count()):
            if self.device.itemData(row) == name:
                self.device.setCurrentIndex(row)
                return self.device.itemData(self.device.currentIndex()) == name
        self._device_note(f"no device called {name!r} here")
        return False

    def _device_changed(self, row: int) -> None:
        reason = self.device.itemData(row, Qt.ItemDataRole.UserRole + 1)
        if reason:
            name = self.device.itemData(row)
            self._device_note(f"{name} cannot be used: {reason}")
            self.log(f"{name} cannot be used: {reason}", "warning")
            self.device.blockSignals(True)
            self.device.setCurrentIndex(0)
            self.device.blockSignals(False)
            return
        self.device_note.hide()
        self._invalidate()

    def _device_note(self, text: str) -> None:
        self.device_note.setText(text)
        self.device_note.show()

    def _input_changed(self, row: int) -> None:
        self.settings.set_number("preview/input", row)
        self._invalidate()

    def _thresholds_changed(self) -> None:
        self._show_thresholds()
        self.settings.set_number("preview/conf", self.conf_value)
        self.settings.set_number("preview/nms", self.nms_value)
        if self.outcome is not None:
            self._filter_timer.start()

    def _show_thresholds(self) -> None:
        self.conf_label.setText(f"{self.conf_value:.2f}")
        self.nms_label.setText(f"{self.nms_value:.2f}")

    # -- the model ------------------------------------------------------------------------
    def model_ready(self, ready: bool) -> None:
        """Called by the window: a cfg with its weights is loaded without errors."""
        self.ready = ready
        self.run_button.setEnabled(ready)
        if not ready:
            self._say("Open a cfg and its weights (without errors) to preview detections.")
            return
        if self.names_path is None:
            self.set_names(guess_names(self.doc.cfg_path))
        self._say("Ready: press Run detection." if self.image_path else "Open an image.")
        if (self.isVisible() or self.run_when_ready) and self.image_path and self._stale:
            self.run_when_ready = False
            self.run()

    def _model_changed(self) -> None:
        self.outcome = None
        self.names_path = None
        self.names_label.setText("class ids (no names file)")
        self._stale = True

    def _invalidate(self) -> None:
        """Something the detector depends on changed: rebuild it on the next run."""
        if self.outcome is not None:
            self.outcome = None
            self._stale = True
            if self.ready and self.image_path:
                self._request("infer")

    def _key(self) -> DetectorKey:
        mode = INPUT_MODES[self.input_mode.currentIndex()][1]
        return DetectorKey(self.doc.cfg_path or "", self.doc.weights_path or "",
                           self.names_path, str(self.device.currentData()), mode)

    # -- running --------------------------------------------------------------------------
    def run(self) -> None:
        if not self.ready or self.doc.network is None:
            self._say("Open a cfg and its weights (without errors) first.", True)
            return
        if not self.image_path:
            self._say("Open an image first.", True)
            return
        self._request("infer")

    def _request(self, kind: str) -> None:
        if self.runner is not None and self.runner.running:
            if self._pending != "infer":
                self._pending = kind
            return
        if kind == "filter" and self.outcome is None:
            return
        self._start(kind)

    def _start(self, kind: str) -> None:
        conf, nms, agnostic = self.conf_value, self.nms_value, self.agnostic.isChecked()
        if kind == "infer":
            key = self._key()
            previous = self.outcome
            detector = previous.detector if previous is not None and previous.key == key \
                else None
            request = DetectRequest(self.doc.network, key, self.image_path, conf, nms,
                                    agnostic, detector)
            runner = TaskRunner(lambda: detect(request), "detect", self)
            runner.returned.connect(self._detected)
            self.run_button.setEnabled(False)
        else:
            outcome = self.outcome
            runner = TaskRunner(lambda: refilter(outcome.detector, outcome.inference,
                                                 outcome.image, conf, nms, agnostic),
                                "refilter", self)
            runner.returned.connect(self._filtered)
        runner.yielded.connect(lambda step: self._say(f"{step}\u2026"))
        runner.errored.connect(self._failed)
        runner.finished.connect(self._runner_finished)
        if self.runner is not None:
            self.runner.deleteLater()  # finished: only the newest runner is kept
        self.runner = runner
        runner.start()

    def _runner_finished(self) -> None:
        self.run_button.setEnabled(self.ready)
        pending, self._pending = self._pending, None
        if pending:
            self._request(pending)
        elif self._stale and self.outcome is None and self.ready and self.image_path:
            self._request("infer")  # a result came back for an image no longer shown

    def _detected(self, outcome: DetectOutcome) -> None:
        if outcome.image_path != self.image_path or outcome.key != self._key():
            return  # the image or a setting changed meanwhile; the newer run is pending
        self.outcome = outcome
        self._stale = False
        self.error = None
        self._show(outcome.drawn)

    def _filtered(self, drawn: Drawn) -> None:
        if self.outcome is not None:
            self.outcome.drawn = drawn
            self._show(drawn)

    def _failed(self, message: str, details: str) -> None:
        self.error = message
        self._say(f"Detection failed: {message}", True)
        self.log(f"detection failed: {message}", "error", details)
        self.shown.emit()

    def _show(self, drawn: Drawn) -> None:
        self.detections = drawn.detections
        self.view.set_image(rgb_to_qimage(drawn.rgb))
        self._fill_table(drawn.detections)
        outcome = self.outcome
        assert outcome is not None
        t = outcome.inference.timings
        parts = [f"{outcome.inference.device}"]
        for key, label in (("preprocess", "preprocess"), ("forward", "network"),
                           ("decode", "decode"), ("nms", "NMS")):
            if key in t:
                parts.append(f"{label} {1000 * t[key]:.0f} ms")
        text = " \u00b7 ".join(parts) + f" \u2014 {len(drawn.detections)} detection(s)"
        if outcome.notes:
            text += "\n" + "\n".join(outcome.notes)
        self._say(text)
        self.shown.emit()

    def _fill_table(self, detections: list) -> None:
        self.table.setRowCount(len(detections))
        for row, d in enumerate(detections):
            box = ", ".join(f"{v:.0f}" for v in d.box)
            for column, text in enumerate((d.name, f"{100 * d.confidence:.1f} %", box)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)

    def _say(self, text: str, error: bool = False) -> None:
        palette.show_status(self.status, text, error)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.ready and self.image_path and self._stale and not (
                self.runner is not None and self.runner.running):
            self.run()

    def shutdown(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
            self.runner.wait(10_000)
