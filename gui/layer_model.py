"""The layer tree: one row per layer, a child row per tensor, fed by a ModelDocument.

The rows live in a QStandardItemModel (C++): a repaint of the tree calls no Python. A
Python item model answered ~1,300 callbacks (index, data per role, rowCount) per repaint
of the visible rows, 15-30 ms of UI-thread work that busy cores stretched into the
longest event-loop stalls of a weights stream (issue 15). Here Python only writes the
cells that changed: what each row shows is worked out (`RowView`), compared with what it
showed, and only differing texts and colours are set; while a stream runs the changed
layers are written at most every FLUSH_MS. A layer's tensor rows are made when first
needed (the layer expanded in a view: Qt's fetchMore; or asked for by `layer_index` /
`tensor_index`): yolov4's 541 tensor rows were 2/3 of the tree's build, on the way to
the app's first window. A row's tooltip is in its first cell; the view shows it over
the whole row.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel

from darknet_inspector.core.model_state import UNREAD
from darknet_inspector.core.network import layer_bflops
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument

if TYPE_CHECKING:
    from darknet_inspector.core.diagnosis import Finding

COLUMNS = ("#", "Type", "Options", "Input", "Output", "Params", "BFLOPS", "Offset", "Weights",
           "Line")
COL_INDEX, COL_TYPE, COL_OPTIONS, COL_INPUT, COL_OUTPUT, COL_PARAMS, COL_BFLOPS, COL_OFFSET, \
    COL_STATUS, COL_LINE = range(len(COLUMNS))
DIVERGENT_MARK = "\u2691"  # the first layer where cfg and weights disagree
NUMERIC = {COL_INDEX, COL_PARAMS, COL_BFLOPS, COL_OFFSET, COL_LINE}
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1  # int: the layer index (column 0 of any row)
TENSOR_ROLE = Qt.ItemDataRole.UserRole + 2  # str | None: the tensor name (column 0)

AnyIndex = QModelIndex | QPersistentModelIndex
NO_PARENT = QModelIndex()
FLUSH_MS = 250

_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class RowView:
    """What one row shows: worked out per change and compared with what it showed."""

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


def static_texts(layer, layers) -> tuple[str, ...]:
    """A layer row's cells that only the cfg decides (type, options, shapes, params,
    BFLOPS, line): worked out once per network."""
    return (layer.type, layer.summary, input_text(layer, layers),
            shape_text(layer.output_shape), f"{layer.param_count:,}" if layer.weights else "",
            bflops_text(layer_bflops(layer)), str(layer.line))


@dataclass
class _DocFacts:
    """The document-wide answers every layer row's view needs, asked once per refresh;
    with the same facts, only the layers read since show anything new."""

    divergent: int | None
    first_bad: int | None
    error_layers: set[int]
    top: Finding | None
    diagnostics: dict[int | None, list[str]]
    unread_text: str  # what a layer not read shows: "" or "not read" (cancelled, failed)


class LayerTreeModel(QStandardItemModel):
    """Rows are (0, layer) for a layer and (layer + 1, n) for its n-th tensor."""

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.doc = document
        self._shown: dict[tuple[int, int], RowView] = {}
        self._items: dict[tuple[int, int], list[QStandardItem]] = {}
        self._static: list[tuple[str, ...]] = []
        self._made: set[int] = set()  # layers whose tensor rows exist
        self._facts_shown: _DocFacts | None = None  # what the layer rows were written with
        self._dirty: set[int] = set()  # layers whose rows changed since the last flush
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        document.network_changed.connect(self._reset)
        document.weights_cleared.connect(self._weights_cleared)
        document.layer_updated.connect(self._layer_changed)
        document.stream_ended.connect(self._all_changed)
        document.problems_changed.connect(self._all_changed)
        if document.network is not None:
            self._reset()

    # -- structure ------------------------------------------------------------------------
    def layer_index(self, row: int) -> QModelIndex:
        """A layer's row, its tensor rows made (if they were not yet)."""
        self._make_tensor_rows(row)
        return self.index(row, 0)

    def tensor_index(self, layer: int, name: str) -> QModelIndex:
        specs = self.doc.layers[layer].weights
        row = next((i for i, s in enumerate(specs) if s.name == name), None)
        return QModelIndex() if row is None else self.index(row, 0, self.layer_index(layer))

    def _unmade_layer(self, parent: AnyIndex) -> int | None:
        """The layer of `parent` when it is a layer row whose tensor rows are not made."""
        if not parent.isValid() or parent.column() != 0 or parent.parent().isValid():
            return None
        row = parent.row()
        if row in self._made or row >= len(self._static):
            return None
        return row

    def hasChildren(self, parent: AnyIndex = NO_PARENT) -> bool:
        row = self._unmade_layer(parent)
        if row is not None:
            return bool(self.doc.layers[row].weights)
        return super().hasChildren(parent)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        row = self._unmade_layer(parent)
        return row is not None and bool(self.doc.layers[row].weights)

    def fetchMore(self, parent: AnyIndex) -> None:
        row = self._unmade_layer(parent)
        if row is not None:
            self._make_tensor_rows(row)

    def _make_tensor_rows(self, row: int) -> None:
        if row in self._made or not 0 <= row < len(self._static):
            return
        self._made.add(row)
        parent = self._items[(0, row)][0]
        for child in range(len(self.doc.layers[row].weights)):
            parent.appendRow(self._new_row(self._tensor_row(row, child), key=(row + 1, child)))

    # -- rows -----------------------------------------------------------------------------
    def _reset(self) -> None:
        """A new network: every row built again (a failed cfg leaves none), as one model
        reset: row by row, the views and the filter proxy took each insertion in turn
        (150 ms for yolov4's 703 rows, on the way to the app's first window)."""
        self._flush_timer.stop()
        self._dirty.clear()
        self._shown.clear()
        self._items.clear()
        self._made.clear()
        self._facts_shown = None
        layers = self.doc.layers
        self._static = [static_texts(layer, layers) for layer in layers]
        self.beginResetModel()
        blocked = self.blockSignals(True)  # the rows' own insert signals: the reset says it
        try:
            self.removeRows(0, self.rowCount())
            facts = self._facts_shown = self._facts() if layers else None
            root = self.invisibleRootItem()
            for row in range(len(layers)):
                root.appendRow(self._new_row(self._layer_row(row, facts), layer=row))
        finally:
            self.blockSignals(blocked)
            self.endResetModel()

    def _new_row(self, view: RowView, layer: int | None = None,
                 key: tuple[int, int] | None = None) -> list[QStandardItem]:
        key = key if key is not None else (0, layer or 0)
        items = []
        for column, text in enumerate(view.texts):
            item = QStandardItem(text)  # editable, but the tree never edits (its triggers)
            if column in NUMERIC:
                item.setData(_RIGHT, _ALIGN)
            items.append(item)
        items[0].setData(view.layer, LAYER_ROLE)
        items[0].setData(view.tensor, TENSOR_ROLE)
        self._items[key] = items
        self._write(key, view)
        return items

    def _write(self, key: tuple[int, int], view: RowView) -> None:
        """Set what differs between `view` and what the row shows."""
        old, items = self._shown.get(key), self._items[key]
        if old == view:
            return
        if old is not None:  # a new row's items were made with their texts
            for column, text in enumerate(view.texts):
                if old.texts[column] != text:
                    items[column].setText(text)
        if old is None or old.background != view.background:
            if view.background is not None or old is not None:
                for item in items:
                    item.setData(view.background, _BACKGROUND)
        if old is None or old.status_colour != view.status_colour:
            items[COL_STATUS].setData(view.status_colour, _FOREGROUND)
        if old is None or old.tooltip != view.tooltip:
            if view.tooltip or old is not None:
                items[0].setData(view.tooltip or None, _TOOLTIP)
        self._shown[key] = view

    def _refresh(self, layers, tensors_of) -> None:
        """Write the rows of `layers`, and the tensor rows of the layers in `tensors_of`
        (a tensor row shows only what was read of it), as the document has them now."""
        if not self._items:
            return
        facts = self._facts()
        if facts != self._facts_shown:  # every layer row may show it
            layers, self._facts_shown = range(len(self._static)), facts
        specs = self.doc.layers
        for row in layers:
            self._write((0, row), self._layer_row(row, facts))
        for row in tensors_of:
            if row not in self._made:  # made later, from the document as it is then
                continue
            for child in range(len(specs[row].weights)):
                self._write((row + 1, child), self._tensor_row(row, child))

    def _facts(self) -> _DocFacts:
        doc = self.doc
        diagnostics: dict[int | None, list[str]] = defaultdict(list)
        for diagnostic in doc.diagnostics():
            diagnostics[diagnostic.layer].append(str(diagnostic))
        unread = "not read" if doc.stream_state in ("cancelled", "failed") else ""
        return _DocFacts(doc.divergent_layer(), doc.first_bad_layer(), doc.error_layers(),
                         doc.top_finding(), diagnostics, unread)

    def _layer_row(self, row: int, facts: _DocFacts) -> RowView:
        doc = self.doc
        layer = doc.layers[row]
        record = doc.records.get(row)
        status = doc.layer_status(row)
        divergent = row == facts.divergent
        static = self._static[row]
        texts = (
            f"{DIVERGENT_MARK} {layer.index}" if divergent else str(layer.index),
            *static[:6],
            f"{record.tensors[0].offset:,}" if record and record.tensors else "",
            self._status_text(row, status, facts), static[6])
        top = facts.top
        tooltip = "\n".join([f"[{layer.section.name}] on cfg line {layer.line}"]
                            + ([f"{DIVERGENT_MARK} first divergent layer ({top.cause}): "
                                f"{top.message}"] if divergent and top else [])
                            + facts.diagnostics.get(row, []))
        return RowView(texts, self._layer_background(row, status, facts),
                       _status_colour(status), tooltip, row, None)

    def _status_text(self, index: int, status: str, facts: _DocFacts) -> str:
        if status == "none":
            return "\u2014"
        if status == UNREAD:
            return facts.unread_text
        return status + (" \u26a0" if index in self.doc.flagged else "")

    def _layer_background(self, row: int, status: str, facts: _DocFacts):
        if status == "partial":
            return palette.ERROR_STRONG
        if row == facts.divergent:
            return palette.DIVERGENT
        bad = facts.first_bad
        if status == "missing" or (bad is not None and row > bad) \
                or row in facts.error_layers:
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
    def _layer_changed(self, row: int) -> None:
        """A layer was read: its rows are written at the next flush (at most every
        FLUSH_MS), so a stream repaints the tree a few times a second, not per layer."""
        if row >= len(self._static):
            return
        self._dirty.add(row)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Write every layer changed since the last flush."""
        self._flush_timer.stop()
        dirty, self._dirty = sorted(self._dirty), set()
        self._refresh(dirty, dirty)

    def _all_changed(self) -> None:
        """Something every layer row may show changed (the verdict, the problems, the
        stream's state): written now, all layer rows if the document-wide facts they
        show changed, else the layers read since the last flush (a stream's start
        changes nothing shown)."""
        self._flush_timer.stop()
        dirty, self._dirty = sorted(self._dirty), set()
        self._refresh(dirty, dirty)

    def _weights_cleared(self) -> None:
        """Another weights file: nothing read is shown any more, tensor rows included."""
        self._flush_timer.stop()
        self._dirty.clear()
        every = range(len(self._static))
        self._facts_shown = None  # every layer row shows what was read
        self._refresh(every, every)


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
        self.setDynamicSortFilter(False)  # until a filter is typed (`set_query`)
        self.setSourceModel(source)
        self._query = ""

    def set_query(self, text: str) -> None:
        # a dynamic filter asks filterAcceptsRow (Python) again for every row whose data
        # changed: 220 calls at a stream's start, for a proxy nobody looks at without a
        # filter (the tree shows the model then)
        self.setDynamicSortFilter(bool(text.strip()))
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
