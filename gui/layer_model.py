"""The layer tree: one row per layer, a child row per tensor, fed by a ModelDocument."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from gui import palette
from gui.document import UNREAD, ModelDocument

COLUMNS = ("#", "Type", "Options", "Input", "Output", "Params", "Offset", "Weights", "Line")
COL_INDEX, COL_TYPE, COL_OPTIONS, COL_INPUT, COL_OUTPUT, COL_PARAMS, COL_OFFSET, \
    COL_STATUS, COL_LINE = range(len(COLUMNS))
NUMERIC = {COL_INDEX, COL_PARAMS, COL_OFFSET, COL_LINE}
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1  # int: the layer index of any row
TENSOR_ROLE = Qt.ItemDataRole.UserRole + 2  # str | None: the tensor name of a child row

AnyIndex = QModelIndex | QPersistentModelIndex
NO_PARENT = QModelIndex()


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "\u00d7".join(str(d) for d in shape)


class LayerTreeModel(QAbstractItemModel):
    """internalId 0 marks a layer row; n > 0 marks a tensor row of layer n - 1."""

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        document.network_changed.connect(self._reset)
        document.weights_cleared.connect(self._all_changed)
        document.layer_updated.connect(self._layer_changed)
        document.stream_ended.connect(self._all_changed)
        document.problems_changed.connect(self._all_changed)

    # -- structure ------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: AnyIndex = NO_PARENT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: AnyIndex = NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: AnyIndex = NO_PARENT) -> int:
        if not parent.isValid():
            return len(self.doc.layers)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self.doc.layers[parent.row()].weights)
        return 0

    def columnCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def layer_index(self, row: int) -> QModelIndex:
        return self.index(row, 0)

    def tensor_index(self, layer: int, name: str) -> QModelIndex:
        specs = self.doc.layers[layer].weights
        row = next((i for i, s in enumerate(specs) if s.name == name), None)
        return QModelIndex() if row is None else self.index(row, 0, self.layer_index(layer))

    # -- data -----------------------------------------------------------------------------
    def data(self, index: AnyIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if index.internalId() == 0:
            return self._layer_data(index.row(), index.column(), role)
        return self._tensor_data(index.internalId() - 1, index.row(), index.column(), role)

    def _layer_data(self, row: int, column: int, role):
        layer = self.doc.layers[row]
        if role == LAYER_ROLE:
            return row
        if role == TENSOR_ROLE:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._layer_text(layer, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._layer_background(row)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
            return _status_colour(self.doc.layer_status(row))
        if role == Qt.ItemDataRole.ToolTipRole:
            problems = self.doc.layer_diagnostics(row)
            lines = [f"[{layer.section.name}] on cfg line {layer.line}"]
            lines += [str(d) for d in problems]
            return "\n".join(lines)
        return None

    def _layer_text(self, layer, column: int) -> str:
        if column == COL_INDEX:
            return str(layer.index)
        if column == COL_TYPE:
            return layer.type
        if column == COL_OPTIONS:
            return layer.summary
        if column == COL_INPUT:
            return shape_text(layer.input_shape)
        if column == COL_OUTPUT:
            return shape_text(layer.output_shape)
        if column == COL_PARAMS:
            return f"{layer.param_count:,}" if layer.weights else ""
        if column == COL_OFFSET:
            record = self.doc.records.get(layer.index)
            return f"{record.tensors[0].offset:,}" if record and record.tensors else ""
        if column == COL_STATUS:
            return self._status_text(layer.index)
        if column == COL_LINE:
            return str(layer.line)
        return ""

    def _status_text(self, index: int) -> str:
        status = self.doc.layer_status(index)
        if status == "none":
            return "\u2014"
        if status == UNREAD:
            if self.doc.stream_state == "streaming":
                return "\u2026"
            if self.doc.stream_state in ("cancelled", "failed"):
                return "not read"
            return ""
        return status + (" \u26a0" if index in self.doc.flagged else "")

    def _layer_background(self, row: int):
        status = self.doc.layer_status(row)
        if status == "partial":
            return palette.ERROR_STRONG
        if status == "missing" or row in self.doc.error_layers():
            return palette.ERROR_LIGHT
        layer = self.doc.layers[row]
        if not layer.known:
            return palette.ERROR_LIGHT
        return None

    def _tensor_data(self, layer_row: int, row: int, column: int, role):
        layer = self.doc.layers[layer_row]
        spec = layer.weights[row]
        if role == LAYER_ROLE:
            return layer_row
        if role == TENSOR_ROLE:
            return spec.name
        tensor = self.doc.tensor_record(layer_row, spec.name)
        stats = self.doc.stats.get((layer_row, spec.name))
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_TYPE:
                return spec.name
            if column == COL_OPTIONS:
                return shape_text(spec.shape)
            if column == COL_PARAMS:
                return f"{spec.count:,}"
            if column == COL_OFFSET:
                return f"{tensor.offset:,}" if tensor else ""
            if column == COL_STATUS:
                if tensor is None:
                    return ""
                return tensor.status + (" \u26a0" if stats and stats.flags else "")
            return ""
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS and tensor:
            return _status_colour(tensor.status)
        if role == Qt.ItemDataRole.BackgroundRole and tensor and tensor.status != "ok":
            return palette.ERROR_STRONG if tensor.status == "partial" else palette.ERROR_LIGHT
        if role == Qt.ItemDataRole.ToolTipRole and stats is not None:
            text = (f"min {stats.minimum:.4g}  max {stats.maximum:.4g}  mean {stats.mean:.4g}"
                    f"  std {stats.std:.4g}")
            return "\n".join([text, *stats.flags])
        return None

    # -- updates --------------------------------------------------------------------------
    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def _layer_changed(self, row: int) -> None:
        if row >= len(self.doc.layers):
            return
        last = len(COLUMNS) - 1
        self.dataChanged.emit(self.index(row, 0), self.index(row, last))
        children = len(self.doc.layers[row].weights)
        if children:
            parent = self.layer_index(row)
            self.dataChanged.emit(self.index(0, 0, parent), self.index(children - 1, last, parent))

    def _all_changed(self) -> None:
        rows = len(self.doc.layers)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, len(COLUMNS) - 1))


def _status_colour(status: str):
    if status == "ok":
        return palette.OK_TEXT
    if status in ("partial", "missing"):
        return palette.ERROR_TEXT
    return palette.MUTED_TEXT


def layer_matches(query: str, index: int, layer_type: str, summary: str, status: str) -> bool:
    """Filter syntax: `12` (index), `10-20` (range), `type:conv`, `status:missing`, or any
    text found in the type or options; every word must match."""
    for word in query.lower().split():
        if not _word_matches(word, index, layer_type.lower(), summary.lower(), status):
            return False
    return True


def _word_matches(word: str, index: int, layer_type: str, summary: str, status: str) -> bool:
    word = word.lstrip("#")
    if word.isdigit():
        return index == int(word)
    low, dash, high = word.partition("-")
    if dash and low.isdigit() and high.isdigit():
        return int(low) <= index <= int(high)
    key, colon, value = word.partition(":")
    if colon and key in ("type", "t"):
        return layer_type.startswith(value)
    if colon and key in ("status", "s"):
        return status.startswith(value)
    return word in layer_type or word in summary


class LayerFilterProxy(QSortFilterProxyModel):
    """Shows the layers that match the filter text, each with all its tensor rows."""

    def __init__(self, source: LayerTreeModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(source)
        self._query = ""

    def set_query(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self._query = text.strip()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._query = text.strip()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if source_parent.isValid() or not self._query:
            return True
        model: LayerTreeModel = self.sourceModel()  # type: ignore[assignment]
        layer = model.doc.layers[source_row]
        return layer_matches(self._query, layer.index, layer.type, layer.summary,
                             model.doc.layer_status(layer.index))
