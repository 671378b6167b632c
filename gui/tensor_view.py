"""One tensor up close: histogram, summary numbers, per-filter norms, flags, export.

The two plots are built (and pyqtgraph imported) when a first tensor is shown: until
then a hint stands where the histogram goes (gui/plots.py, issue 15).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.tensor_stats import DEAD_FILTER_NORM, TensorStats
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.layer_model import shape_text
from darknet_inspector.gui.plots import PlotSlot, pyqtgraph

NO_VALUES = {
    "partial": "the weights file ends inside this tensor",
    "missing": "the weights file ends before this tensor",
}
STAT_NAMES = ("values", "min", "max", "mean", "std", "zeros", "NaN", "Inf")
HIST_PEN = ("#2f6db5", 1)  # colour, width
HIST_BRUSH = (47, 109, 181, 90)
FILTER_BRUSH = "#5b8fd0"
DEAD_BRUSH = "#c62828"


def stat_values(stats: TensorStats) -> dict[str, str]:
    return {
        "values": f"{stats.count:,}",
        "min": f"{stats.minimum:.5g}",
        "max": f"{stats.maximum:.5g}",
        "mean": f"{stats.mean:.5g}",
        "std": f"{stats.std:.5g}",
        "zeros": f"{100 * stats.zero_share:.2f} %",
        "NaN": f"{stats.nans:,}",
        "Inf": f"{stats.infs:,}",
    }


def _plot(title: str):
    """A pyqtgraph PlotWidget styled as the tab's plots are."""
    plot = pyqtgraph().PlotWidget(background="w")
    plot.setTitle(title, color="#333", size="9pt")
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    plot.setMinimumHeight(140)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setTextPen("#444")
        plot.getAxis(axis).setPen("#999")
    return plot


class TensorView(QWidget):
    """Handed the document; `show_tensor(layer, name)` fills it from the document's stats."""

    export_requested = Signal(int, str)

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self.current: tuple[int, str] | None = None
        self.title = QLabel("Select a tensor (expand a layer) to see its values.")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.flags = QLabel()
        self.flags.setWordWrap(True)
        self.flags.setStyleSheet(f"color: {palette.ERROR_TEXT.name()};")
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        for i, name in enumerate(STAT_NAMES):
            label = QLabel(name)
            label.setStyleSheet(f"color: {palette.MUTED_TEXT.name()};")
            value = QLabel("\u2014")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[name] = value
            grid.addWidget(label, (i % 4), 2 * (i // 4))
            grid.addWidget(value, (i % 4), 2 * (i // 4) + 1)
        grid.setColumnStretch(4, 1)
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.toggled.connect(self._apply_log)
        self.export_button = QPushButton("Export .npy\u2026")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export)
        self.histogram = PlotSlot(self._make_histogram, 140)
        self._hist_item = None  # the histogram's curve, once built
        self.filters = PlotSlot(self._make_filters, 140)
        self._bars = None  # the filter norms' BarGraphItem, once shown
        tools = QHBoxLayout()
        tools.addWidget(self.log_scale)
        tools.addStretch(1)
        tools.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(grid)
        layout.addWidget(self.flags)
        layout.addLayout(tools)
        self.hint = QLabel("No tensor selected.\nPick a layer in the tree (or one of its "
                           "tensors) to see its histogram and statistics.")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {palette.MUTED_TEXT.name()};")
        layout.addWidget(self.hint, 3)
        layout.addWidget(self.histogram, 3)
        layout.addWidget(self.filters, 2)
        self.filters.hide()
        self._empty_histogram()
        self._show_hint(True)
        document.network_changed.connect(self.clear)
        document.weights_cleared.connect(self.clear)

    def _make_histogram(self):
        plot = _plot("Histogram")
        plot.setLabel("left", "count")
        pg = pyqtgraph()
        self._hist_item = plot.plot([0, 1], [0], stepMode="center", fillLevel=0,
                                    pen=pg.mkPen(HIST_PEN[0], width=HIST_PEN[1]),
                                    brush=pg.mkBrush(*HIST_BRUSH))
        if self.log_scale.isChecked():
            plot.setLogMode(False, True)
            plot.setLabel("left", "count (log)")
        return plot

    def _make_filters(self):
        plot = _plot("Norm per output filter (red: dead)")
        plot.setLabel("bottom", "filter")
        return plot

    def clear(self) -> None:
        if self.current is None and not self.flags.text():
            return  # nothing shown: keep the plots untouched (no repaint)
        self.current = None
        self.title.setText("Select a tensor (expand a layer) to see its values.")
        self.flags.clear()
        for value in self.values.values():
            value.setText("\u2014")
        self._empty_histogram()
        self._show_hint(True)
        self.filters.hide()
        self.export_button.setEnabled(False)

    def _show_hint(self, shown: bool) -> None:
        """With nothing selected a hint, not an empty 0..1 chart that looks broken."""
        self.hint.setVisible(shown)
        self.histogram.setVisible(not shown)

    def show_tensor(self, layer: int, name: str) -> None:
        """Show the document's stats for one tensor."""
        self.current = (layer, name)
        self._show_hint(False)
        self.histogram.plot()  # built (pyqtgraph imported) with the first tensor shown
        spec = next((s for s in self.doc.layers[layer].weights if s.name == name), None)
        shape = shape_text(spec.shape) if spec else "?"
        kind = self.doc.layers[layer].type
        self.title.setText(f"Layer {layer} ({kind}) \u2014 {name} [{shape}]")
        stats = self.doc.stats.get((layer, name))
        tensor = self.doc.tensor_record(layer, name)
        self.export_button.setEnabled(tensor is not None and tensor.values is not None)
        if stats is None:
            why = NO_VALUES.get(tensor.status if tensor else "", "not read yet")
            self.flags.setText(f"No values: {why}.")
            for value in self.values.values():
                value.setText("\u2014")
            self._empty_histogram()
            self.filters.hide()
            return
        for key, text in stat_values(stats).items():
            self.values[key].setText(text)
        sampled = "" if stats.sampled >= stats.count else \
            f" (histogram of {stats.sampled:,} evenly spaced values)"
        self.flags.setText("\u26a0 " + "; ".join(stats.messages) if stats.flags else "")
        histogram = self.histogram.plot()
        histogram.setTitle(f"Histogram{sampled}", color="#333", size="9pt")
        self._hist_item.setData(stats.edges, stats.counts)
        histogram.enableAutoRange()
        self._show_filters(stats.filter_norms)

    def _empty_histogram(self) -> None:
        if not self.histogram.built:  # nothing drawn yet: nothing to empty
            return
        self._hist_item.setData([0.0, 1.0], [0.0])
        histogram = self.histogram.plot()
        histogram.disableAutoRange()
        histogram.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.05)

    def _show_filters(self, norms: np.ndarray | None) -> None:
        if norms is None:
            self.filters.hide()
            return
        plot, pg = self.filters.plot(), pyqtgraph()
        if self._bars is not None:
            plot.removeItem(self._bars)
        dead = norms < DEAD_FILTER_NORM
        live, dead_brush = pg.mkBrush(FILTER_BRUSH), pg.mkBrush(DEAD_BRUSH)
        brushes = [dead_brush if d else live for d in dead]
        self._bars = pg.BarGraphItem(x=np.arange(norms.size), height=norms, width=0.9,
                                     brushes=brushes, pen=None)
        plot.addItem(self._bars)
        plot.enableAutoRange()
        self.filters.show()

    def _apply_log(self, on: bool) -> None:
        if not self.histogram.built:  # built with the box's state when first shown
            return
        histogram = self.histogram.plot()
        histogram.setLogMode(False, on)
        histogram.setLabel("left", "count (log)" if on else "count")

    def _export(self) -> None:
        if self.current is not None:
            self.export_requested.emit(*self.current)
