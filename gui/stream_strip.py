"""The status-bar strip of a weights stream: what is being read, a live histogram of the
tensor just read, bytes/layers progress and Cancel.

Its widgets keep fixed sizes so that updating them never re-lays out the window (a
relayout would repaint the layer tree, the costly part of a repaint). The live histogram
is painted with QPainter, not pyqtgraph: the strip shows while the app starts, and
pyqtgraph's import (0.5-1 s) waits until a plot is first shown (issue 15).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from darknet_inspector.core.tensor_stats import TensorStats

SPARK_PEN = QColor("#2f6db5")
SPARK_BRUSH = QColor(47, 109, 181, 110)
SPARK_SIZE = (150, 30)


def step_outline(counts, width: float, height: float) -> list[tuple[float, float]]:
    """The outline of a step histogram of `counts` (equal-width bins, as np.histogram
    over a range makes them) filling width x height, the tallest bin touching the top;
    y grows downwards, as widgets count."""
    top = max((float(c) for c in counts), default=0.0)
    if top <= 0:
        return []
    step = width / len(counts)
    points = [(0.0, height)]
    for i, count in enumerate(counts):
        y = height - (height - 1) * float(count) / top
        points += [(i * step, y), ((i + 1) * step, y)]
    return points + [(width, height)]


class LiveHistogram(QWidget):
    """A small histogram without axes: its repaint is cheap enough to follow a stream."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(*SPARK_SIZE)
        self._counts: list[float] = []

    @property
    def _empty(self) -> bool:
        return not self._counts

    def show_stats(self, stats: TensorStats | None) -> None:
        counts = [] if stats is None else [float(c) for c in stats.counts]
        if counts == self._counts:
            return
        self._counts = counts
        self.update()

    def paintEvent(self, event) -> None:
        points = step_outline(self._counts, self.width(), self.height())
        if not points:
            return
        painter = QPainter(self)
        painter.setPen(QPen(SPARK_PEN, 1))
        painter.setBrush(QBrush(SPARK_BRUSH))
        painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
        painter.end()


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
