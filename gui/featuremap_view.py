"""The feature-maps tab: what one layer computes on the preview image.

Compute runs core.jobs.featuremaps once (on the preview's detector and device when it
has run, else on CPU) in a worker, cancellable between layers; afterwards every layer is
shown from what that one pass kept (no re-run per click): a grid of channel images
(sorted by index, mean or max; each scaled to its own range, its range under it, dead
channels in red), a per-channel strip (max activation per channel, dead ones red), or
the heatmap overlay (activation energy; objectness per anchor for a head). The slider
picks the layer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.featuremaps import FeatureMaps, grid_picture, heatmap_picture
from darknet_inspector.core.jobs.detect import DetectorKey
from darknet_inspector.core.jobs.featuremaps import (
    FeatureMapsOutcome,
    FeatureMapsProgress,
    FeatureMapsRequest,
    feature_maps,
)
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.workers import TaskRunner

DEAD_BRUSH, LIVE_BRUSH = pg.mkBrush("#c5221f"), pg.mkBrush("#5f6368")


def rgb_image(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class FeatureMapTab(QWidget):
    layer_activated = Signal(int)

    def __init__(self, document: ModelDocument, preview=None, log=None, parent=None):
        super().__init__(parent)
        self.doc = document
        self.preview = preview
        self.log = log
        self.outcome: FeatureMapsOutcome | None = None
        self.runner: TaskRunner | None = None
        self._build()
        document.network_changed.connect(self.clear)
        document.weights_cleared.connect(self.clear)

    def _build(self) -> None:
        self.compute_button = QPushButton("Compute on preview image")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self._layer_changed)
        self.layer_label = QLabel()
        self.mode = QComboBox()
        self.mode.addItems(["Channels", "Heatmap"])
        self.sort = QComboBox()
        self.sort.addItems(["index", "mean", "max"])
        for combo in (self.mode, self.sort):
            combo.currentIndexChanged.connect(self.render)
        self.status = QLabel("Compute runs the network once on the preview image.")
        bar = QHBoxLayout()
        for widget in (self.compute_button, self.cancel_button, QLabel("Layer"), self.slider,
                       self.layer_label, self.mode, QLabel("Sort"), self.sort):
            bar.addWidget(widget, 1 if widget is self.slider else 0)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.picture)
        scroll.setWidgetResizable(True)
        self.strip = pg.PlotWidget()
        self.strip.setMaximumHeight(150)
        self.strip.setLabel("bottom", "channel")
        self.strip.setLabel("left", "max")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.strip.addItem(self.bars)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(scroll)
        split.addWidget(self.strip)
        split.setStretchFactor(0, 4)
        scroll.setMinimumHeight(160)  # the window must fit 1366x768 (the splitter gives it more)
        split.setSizes([640, 150])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.clear()

    @property
    def maps(self) -> FeatureMaps | None:
        return self.outcome.maps if self.outcome is not None else None

    def clear(self) -> None:
        self.outcome = None
        layers = len(self.doc.layers)
        self.slider.setRange(0, max(0, layers - 1))
        self.picture.clear()
        self.bars.setOpts(x=[], height=[])
        self._show_label()

    def select_layer(self, index: int) -> None:
        if 0 <= index < len(self.doc.layers):
            self.slider.setValue(index)

    def request(self) -> FeatureMapsRequest | None:
        """The preview's detector and image when it ran; else the open model on CPU."""
        preview = self.preview
        outcome = getattr(preview, "outcome", None)
        full = {self.slider.value()}
        if outcome is not None:
            return FeatureMapsRequest(outcome.image, detector=outcome.detector,
                                      full_layers=full)
        image = getattr(preview, "image_path", None)
        network, weights = self.doc.network, self.doc.weights_path
        if not (image and network is not None and weights and self.doc.cfg_path):
            return None
        key = DetectorKey(self.doc.cfg_path, weights, None, "cpu", None)
        return FeatureMapsRequest(image, network=network, key=key, full_layers=full)

    def compute(self) -> None:
        request = self.request()
        if request is None:
            self.status.setText("Open a cfg, its weights and a preview image first.")
            return
        self.runner = TaskRunner(lambda: feature_maps(request), "featuremaps", self)
        self.runner.yielded.connect(self._progress)
        self.runner.returned.connect(self._done)
        self.runner.errored.connect(self._failed)
        self.runner.cancelled.connect(lambda: self.status.setText("Cancelled."))
        self.runner.finished.connect(self._ended)
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.runner.start()

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()

    def _progress(self, record: FeatureMapsProgress) -> None:
        self.status.setText("loading the model" if record.layer < 0 else
                            f"layer {record.layer + 1}/{record.layers}")

    def _done(self, outcome: FeatureMapsOutcome) -> None:
        self.outcome = outcome
        maps = outcome.maps
        self.status.setText(f"{len(maps.layers)} layers on {maps.device}, input "
                            f"{maps.input_size[0]}x{maps.input_size[1]}; kept "
                            f"{maps.kept_bytes / 2**20:.1f} MB (thumbnails {maps.side}px, "
                            "the selected layer in full)")
        self.render()

    def _failed(self, message: str, details: str) -> None:
        self.status.setText(f"Feature maps failed: {message}")
        if self.log is not None:
            self.log(f"feature maps: {message}", "error", details)

    def _ended(self) -> None:
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _layer_changed(self, index: int) -> None:
        self._show_label()
        self.render()
        self.layer_activated.emit(index)

    def _show_label(self) -> None:
        index = self.slider.value()
        layers = self.doc.layers
        self.layer_label.setText(f"{index} [{layers[index].type}]" if index < len(layers)
                                 else "")

    def render(self) -> None:
        maps = self.maps
        layer = maps.layers.get(self.slider.value()) if maps is not None else None
        if layer is None or self.outcome is None:
            return
        if self.mode.currentText() == "Heatmap":
            rgb = heatmap_picture(layer, self.outcome.image)
        else:
            rgb = grid_picture(layer, self.sort.currentText(), tile=72)
        self.picture.setPixmap(QPixmap.fromImage(rgb_image(rgb)))
        dead = layer.stats.dead
        self.bars.setOpts(x=np.arange(len(dead)), height=layer.stats.maximum,
                          brushes=[DEAD_BRUSH if d else LIVE_BRUSH for d in dead])
        self.strip.setTitle(f"{int(dead.sum())} dead of {len(dead)} channels on this image")
