"""The filter box and the layer tree view over a LayerTreeModel.

The view shows the model itself, and the filter proxy only while a filter is typed: a
proxy doubles the Python calls of every repaint, which matters while weights stream in.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.layer_model import (
    COL_BFLOPS,
    COL_INDEX,
    COL_INPUT,
    COL_LINE,
    COL_OFFSET,
    COL_OPTIONS,
    COL_OUTPUT,
    COL_PARAMS,
    COL_STATUS,
    COL_TYPE,
    LAYER_ROLE,
    TENSOR_ROLE,
    LayerFilterProxy,
    LayerTreeModel,
)

OPTIONS_MIN_WIDTH = 170
INPUT_WIDE_WIDTH = 240
COLUMN_WIDTHS = {COL_INDEX: 62, COL_TYPE: 128, COL_INPUT: 104, COL_OUTPUT: 104,
                 COL_PARAMS: 86, COL_BFLOPS: 64, COL_OFFSET: 96, COL_STATUS: 70, COL_LINE: 48}
FILTER_HINT = ("Filter layers: 12 \u00b7 10-20 \u00b7 conv \u00b7 yolo \u00b7 leaky \u00b7 "
               "13x13 \u00b7 status:missing")


class LayerTreeView(QTreeView):
    """The Options column takes the room the others leave, but never less than
    OPTIONS_MIN_WIDTH (a narrow window scrolls instead)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setUniformRowHeights(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAllColumnsShowFocus(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._input_width = COLUMN_WIDTHS[COL_INPUT]  # as last set here (not by hand)

    def setModel(self, model) -> None:
        super().setModel(model)
        for column, width in COLUMN_WIDTHS.items():
            self.header().resizeSection(column, width)
        self._input_width = COLUMN_WIDTHS[COL_INPUT]
        self._fit_options()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_options()

    def viewportEvent(self, event) -> bool:
        """A row's tooltip (kept in its first cell) over any of its cells."""
        if event.type() != QEvent.Type.ToolTip:
            return super().viewportEvent(event)
        index = self.indexAt(event.pos())
        text = index.siblingAtColumn(0).data(Qt.ItemDataRole.ToolTipRole) \
            if index.isValid() else None
        if text:
            QToolTip.showText(event.globalPos(), text, self.viewport(), self.visualRect(index))
        else:
            QToolTip.hideText()
            event.ignore()
        return True

    def _fit_options(self) -> None:
        """Options takes the room left; in a wide window the Input column first grows up
        to INPUT_WIDE_WIDTH so a [route]/[shortcut] row's sources ("L13 24x20x20 + L12
        ...") show whole, unless the user has resized Input by hand."""
        header = self.header()
        if header.sectionSize(COL_INPUT) == self._input_width:
            others = sum(header.sectionSize(c) for c in range(header.count())
                         if c not in (COL_OPTIONS, COL_INPUT))
            spare = self.viewport().width() - others - 2 * OPTIONS_MIN_WIDTH
            self._input_width = min(INPUT_WIDE_WIDTH,
                                    COLUMN_WIDTHS[COL_INPUT] + max(0, spare // 2))
            header.resizeSection(COL_INPUT, self._input_width)
        others = sum(header.sectionSize(c) for c in range(header.count()) if c != COL_OPTIONS)
        header.resizeSection(COL_OPTIONS, max(OPTIONS_MIN_WIDTH,
                                              self.viewport().width() - others))


class LayerPanel(QWidget):
    """`current_changed(layer, tensor or "")` fires when the user moves in the tree."""

    current_changed = Signal(int, str)

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.model = LayerTreeModel(document, self)
        self.proxy = LayerFilterProxy(self.model, self)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(FILTER_HINT)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.tree = LayerTreeView()
        self._set_view_model(self.model)
        self.no_match = QLabel()  # says so when the filter hides every layer
        self.no_match.setContentsMargins(6, 2, 6, 2)
        self.no_match.hide()
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved,
                       self.proxy.modelReset, self.proxy.layoutChanged):
            signal.connect(self._update_no_match)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.no_match)
        layout.addWidget(self.tree)

    def _set_view_model(self, model) -> None:
        self.tree.setModel(model)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)

    def _update_no_match(self, *_args) -> None:
        query = self.filter.text().strip()
        empty = bool(query) and self.model.rowCount() > 0 and self.proxy.rowCount() == 0
        self.no_match.setText(f"no layer matches \u201c{query}\u201d" if empty else "")
        self.no_match.setVisible(empty)

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_query(text)
        self._update_no_match()
        wanted = self.proxy if text.strip() else self.model
        if self.tree.model() is wanted:
            return
        current = self.to_source(self.tree.currentIndex())
        self._set_view_model(wanted)
        if current.isValid():
            view_index = self.to_view(current)
            if view_index.isValid():
                self.tree.setCurrentIndex(view_index)

    def to_source(self, index: QModelIndex) -> QModelIndex:
        """A tree index (from the proxy or the model) as an index of the layer model."""
        if index.isValid() and index.model() is self.proxy:
            return self.proxy.mapToSource(index)
        return index

    def to_view(self, source: QModelIndex) -> QModelIndex:
        if self.tree.model() is self.proxy:
            return self.proxy.mapFromSource(source)
        return source

    def select(self, layer: int, tensor: str | None = None) -> None:
        """Select a layer (or one of its tensors), clearing the filter if it hides it."""
        source = (self.model.tensor_index(layer, tensor) if tensor
                  else self.model.layer_index(layer))
        view_index = self.to_view(source)
        if not view_index.isValid():
            self.filter.clear()
            view_index = self.to_view(source)
        self.tree.setCurrentIndex(view_index)
        self.tree.scrollTo(view_index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        first = current.siblingAtColumn(0)  # the row's roles live in its first cell
        layer = first.data(LAYER_ROLE) if first.isValid() else None
        if layer is not None:
            self.current_changed.emit(int(layer), first.data(TENSOR_ROLE) or "")
