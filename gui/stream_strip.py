"""The status-bar strip of a weights stream: what is being read, a live histogram of the
tensor just read, bytes/layers progress and Cancel.

Its widgets keep fixed sizes so that updating them never re-lays out the window (a
relayout would repaint the layer tree, the costly part of a repaint).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from darknet_inspector.core.tensor_stats import TensorStats

SPARK_PEN = pg.mkPen("#2f6db5", width=1)
SPARK_BRUSH = pg.mkBrush(47, 109, 181, 110)


class LiveHistogram(pg.PlotWidget):
    """A small histogram without axes: its repaint is cheap enough to follow a stream."""

    def __init__(self, parent=None):
        super().__init__(parent, background=None)
        for axis in ("left", "bottom"):
            self.hideAxis(axis)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setFixedSize(150, 30)
        self.getPlotItem().setContentsMargins(0, 0, 0, 0)
        self._item = self.plot([0.0, 1.0], [0.0], stepMode="center", fillLevel=0,
                               pen=SPARK_PEN, brush=SPARK_BRUSH)
        self._empty = True

    def show_stats(self, stats: TensorStats | None) -> None:
        if stats is None or stats.counts.size == 0:
            if not self._empty:
                self._item.setData([0.0, 1.0], [0.0])
                self._empty = True
            return
        self._empty = False
        self._item.setData(np.asarray(stats.edges, float), np.asarray(stats.counts, float))
        self.enableAutoRange()


class StreamStrip(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setFixedWidth(330)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.histogram = LiveHistogram()
        self.histogram.setToolTip("Histogram of the tensor just read")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.histogram)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        for widget in (self.histogram, self.progress, self.cancel_button):
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(True)  # showing them must not relayout
            widget.setSizePolicy(policy)
        self.set_running(False)

    def set_running(self, running: bool, summary: str = "") -> None:
        self.cancel_button.setEnabled(running)
        if running:  # while hidden: a visible QProgressBar's setValue repaints at once,
            self.progress.setValue(0)  # and with it the whole dirty window (the tree)
            self.label.setText("opening\u2026")
            self.histogram.show_stats(None)
        else:
            self.label.setText(summary)
        for widget in (self.histogram, self.progress, self.cancel_button):
            widget.setVisible(running)

    @property
    def running(self) -> bool:
        return self.cancel_button.isEnabled()

    def show_progress(self, text: str, fraction: float, stats: TensorStats | None) -> None:
        self.label.setText(text)
        self.progress.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        if stats is not None:
            self.histogram.show_stats(stats)

    def finish(self, summary: str) -> None:
        self.set_running(False, summary)
