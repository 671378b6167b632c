"""The layer tree: one row per layer, a child row per tensor, fed by a ModelDocument."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor

from darknet_inspector.core.model_state import UNREAD
from darknet_inspector.core.network import layer_bflops
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument

COLUMNS = ("#", "Type", "Options", "Input", "Output", "Params", "BFLOPS", "Offset", "Weights",
           "Line")
COL_INDEX, COL_TYPE, COL_OPTIONS, COL_INPUT, COL_OUTPUT, COL_PARAMS, COL_BFLOPS, COL_OFFSET, \
    COL_STATUS, COL_LINE = range(len(COLUMNS))
DIVERGENT_MARK = "\u2691"  # the first layer where cfg and weights disagree
NUMERIC = {COL_INDEX, COL_PARAMS, COL_BFLOPS, COL_OFFSET, COL_LINE}
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1  # int: the layer index of any row
TENSOR_ROLE = Qt.ItemDataRole.UserRole + 2  # str | None: the tensor name of a child row

AnyIndex = QModelIndex | QPersistentModelIndex
NO_PARENT = QModelIndex()
FLUSH_MS = 250

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ROLES = frozenset({_DISPLAY, _BACKGROUND, _FOREGROUND, _ALIGN, _TOOLTIP, int(LAYER_ROLE),
                    int(TENSOR_ROLE)})
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass
class RowView:
    """What one row shows, computed once per change (paints read it many times)."""

    texts: tuple[str, ...]
    background: QColor | None
    status_colour: QColor
    tooltip: str
    layer: int
    tensor: str | None


def bflops_text(bflops: float) -> str:
    """Darknet's `%5.3f BF`; blank for the layers it does not count."""
    return f"{bflops:.3f}" if bflops > 0 else ""


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "\u00d7".join(str(d) for d in shape)


def input_sources(layer, layers) -> list[tuple[int, object]] | None:
    """(source index, its output shape) for a layer that reads anything but exactly the
    previous layer (route's `layers=`, shortcut/sam/scale_channels' `from=`); None when
    its input is simply the previous layer's output."""
    if not layer.inputs or tuple(layer.inputs) == (layer.index - 1,):
        return None
    return [(s, layers[s].output_shape if 0 <= s < len(layers) else None)
            for s in layer.inputs]


def input_text(layer, layers) -> str:
    """The Input column: each source with its shape (`L12 256×13×13 + L5 128×26×26`)
    for a layer with routed sources, else the previous layer's shape."""
    sources = input_sources(layer, layers)
    if sources is None:
        return shape_text(layer.input_shape)
    return " + ".join(f"L{index} {shape_text(shape)}" for index, shape in sources)


class LayerTreeModel(QAbstractItemModel):
    """internalId 0 marks a layer row; n > 0 marks a tensor row of layer n - 1."""

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self._cache: dict[tuple[int, int], RowView] = {}
        self._dirty: dict[int, bool] = {}  # changed layer rows -> tensor rows shown
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        document.network_changed.connect(self._reset)
        document.weights_cleared.connect(self._all_changed)
        document.layer_updated.connect(self._layer_changed)
        document.stream_ended.connect(self._all_changed)
        document.problems_changed.connect(self._all_changed)

    # -- structure ------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: AnyIndex = NO_PARENT) -> QModelIndex:
        # bounds checked here, not with hasIndex(): views call this thousands of times
        if not 0 <= column < len(COLUMNS) or row < 0:
            return QModelIndex()
        layers = self.doc.layers
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(layers) else QModelIndex()
        if parent.internalId() != 0 or row >= len(layers[parent.row()].weights):
            return QModelIndex()
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
        """Served from a per-row cache: views ask for many roles per cell on every paint."""
        role = int(role)
        if role not in _ROLES or not index.isValid():
            return None
        parent_id, row = index.internalId(), index.row()
        view = self._cache.get((parent_id, row))
        if view is None:
            view = self._build_row(parent_id, row)
            self._cache[(parent_id, row)] = view
        column = index.column()
        if role == _DISPLAY:
            return view.texts[column]
        if role == _BACKGROUND:
            return view.background
        if role == _FOREGROUND:
            return view.status_colour if column == COL_STATUS else None
        if role == _ALIGN:
            return _RIGHT if column in NUMERIC else None
        if role == _TOOLTIP:
            return view.tooltip
        if role == LAYER_ROLE:
            return view.layer
        return view.tensor  # TENSOR_ROLE

    def _build_row(self, parent_id: int, row: int) -> RowView:
        if parent_id == 0:
            return self._layer_row(row)
        return self._tensor_row(parent_id - 1, row)

    def _layer_row(self, row: int) -> RowView:
        layer = self.doc.layers[row]
        record = self.doc.records.get(row)
        status = self.doc.layer_status(row)
        divergent = row == self.doc.divergent_layer()
        texts = (
            f"{DIVERGENT_MARK} {layer.index}" if divergent else str(layer.index), layer.type,
            layer.summary, input_text(layer, self.doc.layers),
            shape_text(layer.output_shape), f"{layer.param_count:,}" if layer.weights else "",
            bflops_text(layer_bflops(layer)),
            f"{record.tensors[0].offset:,}" if record and record.tensors else "",
            self._status_text(row, status), str(layer.line))
        top = self.doc.top_finding()
        tooltip = "\n".join([f"[{layer.section.name}] on cfg line {layer.line}"]
                            + ([f"{DIVERGENT_MARK} first divergent layer ({top.cause}): "
                                f"{top.message}"] if divergent and top else [])
                            + [str(d) for d in self.doc.layer_diagnostics(row)])
        return RowView(texts, self._layer_background(row, status), _status_colour(status),
                       tooltip, row, None)

    def _status_text(self, index: int, status: str) -> str:
        if status == "none":
            return "\u2014"
        if status == UNREAD:
            if self.doc.stream_state in ("cancelled", "failed"):
                return "not read"
            return ""
        return status + (" \u26a0" if index in self.doc.flagged else "")

    def _layer_background(self, row: int, status: str):
        if status == "partial":
            return palette.ERROR_STRONG
        if row == self.doc.divergent_layer():
            return palette.DIVERGENT
        bad = self.doc.first_bad_layer()
        if status == "missing" or (bad is not None and row > bad) \
                or row in self.doc.error_layers():
            return palette.ERROR_LIGHT
        if not self.doc.layers[row].known:
            return palette.ERROR_LIGHT
        return None

    def _tensor_row(self, layer_row: int, row: int) -> RowView:
        spec = self.doc.layers[layer_row].weights[row]
        tensor = self.doc.tensor_record(layer_row, spec.name)
        stats = self.doc.stats.get((layer_row, spec.name))
        status = tensor.status if tensor else ""
        flag = " \u26a0" if stats and stats.flags else ""
        texts = ("", spec.name, shape_text(spec.shape), "", "", f"{spec.count:,}", "",
                 f"{tensor.offset:,}" if tensor else "", status + flag, "")
        background = None
        if tensor and tensor.status != "ok":
            background = palette.ERROR_STRONG if tensor.status == "partial" \
                else palette.ERROR_LIGHT
        tooltip = ""
        if stats is not None:
            tooltip = "\n".join([f"min {stats.minimum:.4g}  max {stats.maximum:.4g}  "
                                 f"mean {stats.mean:.4g}  std {stats.std:.4g}", *stats.messages])
        return RowView(texts, background, _status_colour(status), tooltip, layer_row,
                       spec.name)

    # -- updates --------------------------------------------------------------------------
    def _reset(self) -> None:
        self.beginResetModel()
        self._cache.clear()
        self._dirty.clear()
        self.endResetModel()

    def _layer_changed(self, row: int) -> None:
        """Mark a row changed; views hear about it at most every FLUSH_MS (throttled)."""
        if row >= len(self.doc.layers):
            return
        self._cache.pop((0, row), None)
        shown_children = False
        for child in range(len(self.doc.layers[row].weights)):
            shown_children |= self._cache.pop((row + 1, child), None) is not None
        self._dirty[row] = self._dirty.get(row, False) or shown_children
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Tell the views about every row changed since the last flush (tensor rows only
        where a view has asked for them, i.e. under expanded layers)."""
        self._flush_timer.stop()
        dirty, self._dirty = self._dirty, {}
        if not dirty:
            return
        rows = sorted(dirty)
        last = len(COLUMNS) - 1
        self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], last))
        for row in rows:
            if dirty[row]:
                parent = self.layer_index(row)
                children = len(self.doc.layers[row].weights)
                self.dataChanged.emit(self.index(0, 0, parent),
                                      self.index(children - 1, last, parent))

    def _all_changed(self) -> None:
        self._cache.clear()
        self._dirty.clear()
        self._flush_timer.stop()
        rows = len(self.doc.layers)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, len(COLUMNS) - 1))


def _status_colour(status: str):
    if status == "ok":
        return palette.OK_TEXT
    if status in ("partial", "missing"):
        return palette.ERROR_TEXT
    return palette.MUTED_TEXT


SHAPE_WORD = re.compile(r"\d+(?:[x\u00d7*]\d+)+")


def layer_matches(query: str, index: int, layer_type: str, summary: str, status: str,
                  shapes=()) -> bool:
    """Filter syntax: `12` (index), `10-20` (range), `type:conv`, `status:missing`, a shape
    (`40x40`, `13x13x255`) found in one of `shapes` (the layer's input/output shapes), or
    any text found in the type or options; every word must match."""
    for word in query.lower().split():
        if not _word_matches(word, index, layer_type.lower(), summary.lower(), status,
                             shapes):
            return False
    return True


def shape_matches(word: str, shape) -> bool:
    """`40x40` / `13x13x255` / `255×13×13`: the dimensions appear in a row in the shape,
    read as we show it (C×H×W) or as Darknet prints it (W x H x C)."""
    if shape is None:
        return False
    dims = tuple(int(d) for d in re.split(r"[x\u00d7*]", word))
    for order in (tuple(shape), tuple(reversed(shape))):
        if any(order[i:i + len(dims)] == dims for i in range(len(order) - len(dims) + 1)):
            return True
    return False


def _word_matches(word: str, index: int, layer_type: str, summary: str, status: str,
                  shapes=()) -> bool:
    word = word.lstrip("#")
    if SHAPE_WORD.fullmatch(word) and any(shape_matches(word, s) for s in shapes):
        return True
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
        layers = model.doc.layers
        layer = layers[source_row]
        sources = input_sources(layer, layers) or []
        shapes = [layer.input_shape, layer.output_shape, *(shape for _, shape in sources)]
        return layer_matches(self._query, layer.index, layer.type, layer.summary,
                             model.doc.layer_status(layer.index), shapes)
