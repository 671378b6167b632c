"""Detection preview tab: image, device, input mode, thresholds, boxes and timing.

The network runs in a worker once per image; moving a slider only re-filters the cached
candidates (also in a worker, the newest request wins).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.detect import parse_class_thresholds, read_names
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.jobs.detect import (
    DetectorKey,
    DetectOutcome,
    DetectRequest,
    Drawn,
    detect,
    model_classes,
    refilter,
    save_drawn,
)
from darknet_inspector.core.torch_engine import available_devices
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.preview_canvas import ImageCanvas
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.tree_file_row import TreeFileRow
from darknet_inspector.gui.workers import TaskRunner

INPUT_MODES = (("As the cfg says", None), ("Stretch (Darknet resize_image)", False),
               ("Letterbox", True))
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff);;All files (*)"
FILTER_DELAY_MS = 40


def guess_names(cfg_path: str | None) -> str | None:
    """`model.names` beside `model.cfg`, else the only .names file in that folder."""
    if not cfg_path:
        return None
    stem = os.path.splitext(cfg_path)[0] + ".names"
    if os.path.isfile(stem):
        return stem
    found = glob.glob(os.path.join(os.path.dirname(cfg_path) or ".", "*.names"))
    return found[0] if len(found) == 1 else None


def names_key(cfg_path: str) -> str:
    """The settings key remembering a model's names file."""
    return "names/" + os.path.abspath(cfg_path).replace("\\", "/").lstrip("/").replace("/", "|")


def names_mismatch(names_path: str | None, network) -> str | None:
    """A warning when the names file does not hold one name per class of the model."""
    if not names_path or network is None:
        return None
    classes = model_classes(network)
    try:
        count = len(read_names(names_path))
    except InspectorError as exc:
        return str(exc)
    if classes is None or count == classes:
        return None
    return (f"{os.path.basename(names_path)} has {count} names but the model has {classes} "
            "classes: the labels are probably wrong")


def class_threshold_entries(text: str) -> list[str]:
    """The preview box's `dog=0.6, 3=0.1` (commas or semicolons) as separate entries."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def rgb_to_qimage(rgb) -> QImage:
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


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
        self._generation = 0  # bumped by every change a shown result depends on
        self._last_started = -1  # the generation the last network run was started for
        self._detector: tuple | None = None  # (key, network id, Detector) to reuse
        self.class_conf: dict[int, float] = {}
        self.run_when_ready = False  # run as soon as a model is ready, even while hidden
        self._build()
        document.network_changed.connect(self._model_changed)
        document.weights_cleared.connect(self._model_changed)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(lambda: self._request("filter"))

    # -- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        self.view = ImageCanvas()
        self.view.box_clicked.connect(self._box_clicked)
        fit = QPushButton("Fit")
        fit.setToolTip("Fit the image to the view (double-click does the same); the wheel "
                       "zooms, dragging pans")
        fit.clicked.connect(self.view.fit)
        zoom_in, zoom_out = QPushButton("+"), QPushButton("\u2212")
        zoom_in.clicked.connect(lambda: self.view.zoom_by(1.25))
        zoom_out.clicked.connect(lambda: self.view.zoom_by(0.8))
        self.save_button = QPushButton("Save annotated image\u2026")
        self.save_button.clicked.connect(self.ask_save)
        self.save_button.setEnabled(False)
        self.view_tools = QHBoxLayout()
        for button in (fit, zoom_in, zoom_out):
            self.view_tools.addWidget(button)
        self.view_tools.addStretch(1)
        self.view_tools.addWidget(self.save_button)
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
        self.class_thresholds = QLineEdit()
        self.class_thresholds.setPlaceholderText("per class, e.g. dog=0.6, person=0.4")
        self.class_thresholds.setToolTip("A class's own confidence threshold (its name or "
                                         "id), used instead of the slider for that class")
        self.class_thresholds.editingFinished.connect(self._class_thresholds_changed)
        self.names_warning = QLabel()
        self.names_warning.setWordWrap(True)
        self.names_warning.setStyleSheet(f"color: {palette.ERROR_TEXT.name()};")
        self.names_warning.hide()
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
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch)

        form = QFormLayout()
        form.addRow(self._row(self.image_label, open_image))
        form.addRow(self._row(self.names_label, choose_names))
        form.addRow(self.names_warning)
        self.tree_row = TreeFileRow(self.doc, self.settings, self.log)
        form.addRow(self.tree_row)
        form.addRow("Device", self.device)
        form.addRow("", self.device_note)
        form.addRow("Input", self.input_mode)
        form.addRow(self._caption("Confidence", self.conf_label), self.conf)
        form.addRow(self._caption("NMS IoU", self.nms_label), self.nms)
        form.addRow("", self.agnostic)
        form.addRow("Per class", self.class_thresholds)
        panel = QWidget()
        panel.setFixedWidth(400)
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(self.run_button)
        column.addWidget(self.status)
        column.addWidget(self.table, 1)
        picture = QVBoxLayout()
        picture.addLayout(self.view_tools)
        picture.addWidget(self.view, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(picture, 1)
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
        self.error = None
        self._clear_results()
        if run and self.ready:
            self.run()

    def set_names(self, path: str | None, remember: bool = True) -> None:
        self.names_path = os.fspath(path) if path else None
        if path:
            self.settings.remember_folder("names", self.names_path)
            if remember and self.doc.cfg_path:
                self.settings.set_text(names_key(self.doc.cfg_path), self.names_path)
        self.names_label.setText(os.path.basename(self.names_path) if self.names_path
                                 else "class ids (no names file)")
        self.names_label.setToolTip(self.names_path or "")
        self._check_names()
        self._invalidate()

    def _check_names(self) -> None:
        """Warn here, beside the names file, when its count is not the model's classes."""
        note = names_mismatch(self.names_path, self.doc.network)
        self.names_warning.setText(note or "")
        self.names_warning.setVisible(note is not None)
        if note:
            self.log(note, "warning")

    def _class_thresholds_changed(self) -> None:
        names = None
        if self.names_path:
            try:
                names = read_names(self.names_path)
            except InspectorError:
                names = None
        try:
            found = parse_class_thresholds(class_threshold_entries(self.class_thresholds.text()),
                                           names)
        except ValueError as exc:
            self._say(f"Per-class thresholds not used: {exc}", True)
            return
        if found != self.class_conf:
            self.class_conf = found
            self._thresholds_changed()

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
            self._generation += 1
            self._mark_out_of_date("Updating for the new thresholds\u2026")
            self._filter_timer.start()

    def _show_thresholds(self) -> None:
        self.conf_label.setText(f"{self.conf_value:.2f}")
        self.nms_label.setText(f"{self.nms_value:.2f}")

    # -- the model ------------------------------------------------------------------------
    def model_ready(self, ready: bool) -> None:
        """Called by the window: a cfg with its weights is loaded without errors."""
        self.ready = ready
        self.run_button.setEnabled(ready and not self.running)
        if not ready:
            if self.outcome is not None or self.detections:
                self.outcome = None
                self._stale = True
                self._clear_results()
            self._say("Open a cfg and its weights (without errors) to preview detections.")
            return
        if self.names_path is None:
            remembered = self.settings.text(names_key(self.doc.cfg_path or ""))
            self.set_names(remembered if os.path.isfile(remembered)
                           else guess_names(self.doc.cfg_path), remember=False)
        self._say("Ready: press Run detection." if self.image_path else "Open an image.")
        if (self.isVisible() or self.run_when_ready) and self.image_path and self._stale:
            self.run_when_ready = False
            self.run()

    def _model_changed(self) -> None:
        """Another model (or a reload): nothing shown was computed by it."""
        self.outcome = None
        self.error = None
        self.names_path = None
        self.names_label.setText("class ids (no names file)")
        self.names_warning.hide()
        self._stale = True
        self._clear_results()

    def _invalidate(self) -> None:
        """Something the detector depends on changed: rebuild it on the next run."""
        had = self.outcome is not None
        self.outcome = None
        self._stale = True
        self._clear_results()
        if had and self.ready and self.image_path:
            self._request("infer")

    def _clear_results(self) -> None:
        """No boxes, no rows: what was shown came from inputs that changed. The plain
        image stays, so the user sees what the next run will look at."""
        self._generation += 1
        self.detections = []
        self.table.setRowCount(0)
        self.table.setEnabled(True)
        self.save_button.setEnabled(False)
        image = QImage(self.image_path) if self.image_path else QImage()
        self.view.set_boxes([])
        self.view.set_image(None if image.isNull() else image, keep_view=True)

    def _mark_out_of_date(self, text: str) -> None:
        """Rows and boxes stay while a quick re-filter runs, greyed and said to be old."""
        self.table.setEnabled(False)
        self._say(text)

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

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
        class_conf = dict(self.class_conf)
        if kind == "infer":
            self._clear_results()  # nothing old stays on screen while this one runs
            key = self._key()
            cached = self._detector
            detector = cached[2] if cached is not None and cached[:2] == (
                key, id(self.doc.network)) else None
            request = DetectRequest(self.doc.network, key, self.image_path, conf, nms,
                                    agnostic, detector, class_conf=class_conf)
            runner = TaskRunner(lambda: detect(request), "detect", self)
            generation = self._last_started = self._generation
            network_id = id(self.doc.network)
            runner.returned.connect(
                lambda outcome: self._detected(outcome, generation, network_id))
            self.run_button.setEnabled(False)
        else:
            outcome = self.outcome
            runner = TaskRunner(lambda: refilter(outcome.detector, outcome.inference,
                                                 outcome.image, conf, nms, agnostic,
                                                 class_conf),
                                "refilter", self)
            generation = self._generation
            runner.returned.connect(lambda drawn: self._filtered(drawn, generation))
        runner.yielded.connect(lambda step: self._say(f"{step}\u2026"))
        runner.errored.connect(lambda message, details: self._failed(message, details,
                                                                     generation))
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
        elif (self._stale and self.outcome is None and self.ready and self.image_path
              and self._last_started != self._generation):
            self._request("infer")  # a result came back for inputs no longer shown

    def _detected(self, outcome: DetectOutcome, generation: int, network_id: int) -> None:
        self._detector = (outcome.key, network_id, outcome.detector)
        if (generation != self._generation or outcome.image_path != self.image_path
                or outcome.key != self._key()):
            return  # the model, image or a setting changed meanwhile: not shown
        self.outcome = outcome
        self._stale = False
        self.error = None
        self._show(outcome.drawn)

    def _filtered(self, drawn: Drawn, generation: int) -> None:
        if self.outcome is not None and generation == self._generation:
            self.outcome.drawn = drawn
            if self._pending is None:
                self._show(drawn)

    def _failed(self, message: str, details: str, generation: int) -> None:
        self.log(f"detection failed: {message}", "error", details)
        if generation != self._generation:
            return
        self.error = message
        self._stale = False  # not retried until an input changes or Run is pressed
        self._clear_results()
        self._last_started = self._generation
        self._say(f"Detection failed: {message}", True)
        self.shown.emit()

    def _show(self, drawn: Drawn) -> None:
        self.detections = drawn.detections
        self.view.set_image(rgb_to_qimage(drawn.rgb), keep_view=True)
        self.view.set_boxes([d.box for d in drawn.detections])
        self._fill_table(drawn.detections)
        self.table.setEnabled(True)
        self.save_button.setEnabled(True)
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

    # -- the workspace --------------------------------------------------------------------
    def _box_clicked(self, index: int) -> None:
        if index < self.table.rowCount():
            self.table.selectRow(index)
            self.table.scrollToItem(self.table.item(index, 0))

    def _row_selected(self) -> None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        self.view.highlight(min(rows) if rows else None)

    def ask_save(self) -> None:
        if self.outcome is None or self.outcome.drawn is None:
            return
        stem = os.path.splitext(os.path.basename(self.image_path or "image"))[0]
        start = os.path.join(self.settings.folder("annotated"), f"{stem}-detections.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save annotated image", start,
                                              "PNG (*.png);;JPEG (*.jpg *.jpeg)")
        if path:
            self.save_annotated(path)

    def save_annotated(self, path: str) -> bool:
        """Write the image with its boxes as shown; False (and the reason shown) if not."""
        if self.outcome is None or self.outcome.drawn is None:
            return False
        try:
            save_drawn(path, self.outcome.drawn.rgb)
        except (InspectorError, OSError) as exc:
            self._say(f"Not saved: {exc}", True)
            self.log(f"cannot save {path}: {exc}", "error")
            return False
        self.settings.remember_folder("annotated", path)
        self.log(f"wrote {path}")
        return True

    def _say(self, text: str, error: bool = False) -> None:
        palette.show_status(self.status, text, error)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if (self.ready and self.image_path and self._stale and not self.running
                and self._last_started != self._generation):
            self.run()

    def shutdown(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
            self.runner.wait(10_000)
