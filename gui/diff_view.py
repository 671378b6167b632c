"""Weights-diff tab: the open weights (A) against a second .weights for the same cfg (B).

Per tensor the relative change ||B - A|| / ||A||, how many values changed and the largest
change; a histogram of B - A over all changed values (or over the selected tensor's); and
the changed layers and tensors highlighted in the layer tree (`ChangedLayersDelegate`).
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.diff import (
    Histogram,
    TensorDiff,
    WeightsDiff,
    tensor_difference,
    value_histogram,
)
from darknet_inspector.core.jobs.diff import diff
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.hints import model_hint
from darknet_inspector.gui.layer_model import LAYER_ROLE, TENSOR_ROLE, shape_text
from darknet_inspector.gui.plots import PlotSlot, pyqtgraph
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.workers import TaskRunner, describe_error, start_task

# changed layers / tensors in the tree and the table: a clear blue (black text stays
# readable), not the pale blue that hardly stood out from white rows
CHANGED = QColor("#5b9bf0")
COLUMNS = ("Layer", "Type", "Tensor", "Shape", "Changed values", "Relative change",
           "Max abs change")
COL_LAYER, COL_TYPE, COL_TENSOR, COL_SHAPE, COL_CHANGED, COL_REL, COL_MAX = range(len(COLUMNS))
WEIGHTS_FILTER = "Darknet weights (*.weights);;All files (*)"
BAR_BRUSH = (47, 109, 181, 150)
BAR_PEN = "#2f6db5"


def relative_text(row: TensorDiff) -> str:
    if not row.present:
        return "absent"
    if math.isinf(row.rel_change):
        return "from zero"
    return f"{row.rel_change:.3g}"


def spread_columns(table: QTableWidget) -> None:
    """Each column as wide as its contents (and title), then the room left over shared in
    proportion to those widths, so the columns end exactly at the table's right edge (a
    narrower table scrolls instead)."""
    header = table.horizontalHeader()
    count = header.count()
    wanted = [max(table.sizeHintForColumn(i), header.sectionSizeHint(i), 1)
              for i in range(count)]
    room = table.viewport().width() - sum(wanted)
    sizes = [w + max(room, 0) * w // sum(wanted) for w in wanted]
    if room > 0 and count:
        sizes[-1] += table.viewport().width() - sum(sizes)  # what rounding left
    for i, size in enumerate(sizes):
        header.resizeSection(i, size)


class ColumnSpreader(QObject):
    """Spreads a table's columns (`spread_columns`) whenever its viewport is resized."""

    def __init__(self, table: QTableWidget):
        super().__init__(table)
        self.table = table
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            spread_columns(self.table)
        return False


IDLE_TEXT = ("Ready: compare these weights with a second .weights file for the same cfg "
             "(e.g. after fine-tuning).")


class DiffTab(QWidget):
    """Given the document: A is its weights file, B is chosen here."""

    tensor_activated = Signal(int, str)
    changed = Signal()  # the set of changed layers is new (the tree repaints)

    def __init__(self, doc: ModelDocument, settings: AppSettings,
                 log: Callable[..., None], parent=None):
        super().__init__(parent)
        self.doc = doc
        self.settings = settings
        self.log = log
        self.runner: TaskRunner | None = None
        self.result: WeightsDiff | None = None
        self.changed_layers: set[int] = set()
        self.changed_tensors: set[tuple[int, str]] = set()
        self.rows: list[TensorDiff] = []
        self._generation = 0  # bumped when the model changes: older results are not shown

        self.open_button = QPushButton("Compare with weights\u2026")
        self.open_button.clicked.connect(self.ask_other)
        self.only_changed = QCheckBox("Only changed tensors")
        self.only_changed.setChecked(True)
        self.only_changed.toggled.connect(self._fill_table)
        self.summary = QLabel("Open a cfg and its weights, then compare them with a second "
                              ".weights file for the same cfg (e.g. after fine-tuning).")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.columns = ColumnSpreader(self.table)
        self.table.currentCellChanged.connect(self._row_selected)
        self.table.cellDoubleClicked.connect(self._row_activated)
        self.plot = PlotSlot(self._make_plot, 160)  # pyqtgraph: with the first histogram
        self.histogram: Histogram | None = None

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.only_changed)
        top.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([400, 200])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.doc.network_changed.connect(self.clear)
        self.doc.weights_cleared.connect(self.clear)
        self.model_ready(False)

    @staticmethod
    def _make_plot():
        plot = pyqtgraph().PlotWidget(background="w")
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("bottom", "B - A")
        plot.setLabel("left", "values")
        return plot

    # -- state ----------------------------------------------------------------------------
    def model_ready(self, ready: bool) -> None:
        self.open_button.setEnabled(ready and not self.running)
        if self.result is None and not self.running:
            self.summary.setText(IDLE_TEXT if ready else model_hint(self.doc, "comparing"))

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def clear(self) -> None:
        """The model changed: no difference computed for the old one stays on screen."""
        self._generation += 1
        self.summary.setText(model_hint(self.doc, "comparing"))
        had = bool(self.changed_layers)
        self.result = None
        self.rows = []
        self.changed_layers, self.changed_tensors = set(), set()
        self.table.setRowCount(0)
        self._plot(None, "")
        if had:
            self.changed.emit()

    # -- running --------------------------------------------------------------------------
    def ask_other(self) -> None:
        start = os.path.dirname(self.doc.weights_path or "") or self.settings.folder("weights")
        path, _ = QFileDialog.getOpenFileName(self, "Compare with weights", start,
                                              WEIGHTS_FILTER)
        if path:
            self.compare_with(path)

    def compare_with(self, path: str) -> None:
        network, a = self.doc.network, self.doc.weights_path
        if network is None or not a or self.running:
            self.log("open a cfg and its weights first", "warning")
            return
        path = os.fspath(path)
        self.log(f"comparing {os.path.basename(a)} with {path}")
        self.clear()
        generation = self._generation
        self.runner = start_task(
            self, lambda: diff(network, a, path), "diff", step=self.summary.setText,
            done=lambda result: self.show_diff(result)
            if generation == self._generation else None,
            failed=lambda m, d: self._failed(m, d) if generation == self._generation else None,
            button=self.open_button)

    def _failed(self, message: str, details: str) -> None:
        self.summary.setText(f"Comparison failed: {message}")
        self.log(f"weights comparison failed: {message}", "error", details)

    def shutdown(self) -> None:
        if self.running:
            self.runner.cancel()
            self.runner.wait()

    # -- showing --------------------------------------------------------------------------
    def show_diff(self, result: WeightsDiff) -> None:
        self.result = result
        self.changed_tensors = {(t.layer, t.name) for t in result.changed}
        self.changed_layers = set(result.changed_layers)
        total = len(result.tensors)
        text = (f"{os.path.basename(result.b.path)} against {os.path.basename(result.a.path)}"
                f": {len(result.changed)} of {total} tensors changed, in "
                f"{len(result.changed_layers)} layers (highlighted in the Layers tree).")
        for key, (old, new) in result.header_changes().items():
            text += f" Header {key}: {old} \u2192 {new}."
        if result.diagnostics:
            text += " " + " ".join(str(d) for d in result.diagnostics)
        self.summary.setText(text)
        self.log(text, "warning" if result.has_errors else "info")
        self._fill_table()
        self._plot(result.histogram, "all changed values")
        self.changed.emit()

    def _fill_table(self) -> None:
        if self.result is None:
            return
        only = self.only_changed.isChecked()
        self.rows = [t for t in self.result.tensors if t.changed or not only]
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            texts = (str(row.layer), row.type, row.name, shape_text(row.shape),
                     f"{row.changed_values:,} / {row.count:,}", relative_text(row),
                     f"{row.max_abs:.3g}" if row.changed else "")
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if column in (COL_LAYER, COL_CHANGED, COL_REL, COL_MAX):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if row.changed:
                    item.setBackground(CHANGED)
                elif not row.present:
                    item.setBackground(palette.ERROR_LIGHT)
                self.table.setItem(r, column, item)
        spread_columns(self.table)

    def _row_selected(self, row: int, *_args) -> None:
        if self.result is None or not 0 <= row < len(self.rows):
            return
        tensor = self.rows[row]
        if not tensor.changed:
            self._plot(None, f"{tensor.layer}.{tensor.name}: unchanged")
            return
        network = self.doc.network
        try:
            values = tensor_difference(network, self.result.a.path, self.result.b.path,
                                       tensor.layer, tensor.name) if network else None
        except Exception as exc:  # a file changed since the comparison: say so, no traceback
            self.log(f"cannot show {tensor.layer}.{tensor.name}: {describe_error(exc)}",
                     "error", traceback.format_exc())
            values = None
        self._plot(None if values is None else value_histogram(values),
                   f"layer {tensor.layer} {tensor.name}")

    def _row_activated(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.rows):
            self.tensor_activated.emit(self.rows[row].layer, self.rows[row].name)

    def _plot(self, histogram: Histogram | None, title: str) -> None:
        self.histogram = histogram
        if histogram is None and not self.plot.built:
            return  # nothing drawn yet: nothing to clear
        plot, pg = self.plot.plot(), pyqtgraph()
        plot.clear()
        plot.setTitle(title, color="#333", size="9pt")
        if histogram is None or not histogram.counts:
            return
        edges = np.asarray(histogram.edges)
        bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=histogram.counts,
                               brush=pg.mkBrush(*BAR_BRUSH), pen=pg.mkPen(BAR_PEN))
        plot.addItem(bars)
        plot.setTitle(f"{title} ({sum(histogram.counts):,} changed, "
                      f"{histogram.unchanged:,} unchanged)", color="#333", size="9pt")

    # -- the tree -------------------------------------------------------------------------
    def is_changed(self, layer: int, tensor: str | None) -> bool:
        if tensor is None:
            return layer in self.changed_layers
        return (layer, tensor) in self.changed_tensors


class ChangedLayersDelegate(QStyledItemDelegate):
    """Paints the layers (and tensors) the weights diff found changed in the layer tree;
    rows the model colours (problems) and all other rows keep the model's colours."""

    def __init__(self, tab: DiffTab, parent=None):
        super().__init__(parent)
        self.tab = tab

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        if not self.tab.changed_layers:
            return
        if index.data(Qt.ItemDataRole.BackgroundRole) is not None:
            return  # a problem colour (missing, partial, error) stays visible
        first = index.siblingAtColumn(0)  # the row's roles live in its first cell
        layer = first.data(LAYER_ROLE)
        if layer is not None and self.tab.is_changed(int(layer), first.data(TENSOR_ROLE)):
            option.backgroundBrush = QBrush(CHANGED)
