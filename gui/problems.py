"""The Problems panel: every diagnostic of the cfg and the weights; a click selects the layer."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument

PROBLEM_COLUMNS = ("Severity", "Layer", "Line", "Message")
NO_PARENT = QModelIndex()


class ProblemsModel(QAbstractTableModel):
    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self.problems: list[Diagnostic] = []
        document.problems_changed.connect(self.refresh)

    def refresh(self) -> None:
        self.beginResetModel()
        errors_first = sorted(self.doc.diagnostics(), key=lambda d: d.severity != "error")
        self.problems = errors_first
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.problems)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return len(PROBLEM_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return PROBLEM_COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        problem = self.problems[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (problem.severity, problem.layer, problem.line, problem.message)
            value = values[column]
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return palette.ERROR_TEXT if problem.severity == "error" else palette.MUTED_TEXT
        if role == Qt.ItemDataRole.UserRole:
            return problem.layer
        return None


class ProblemsPanel(QWidget):
    """A table of problems; `layer_activated` carries the layer of the clicked row."""

    layer_activated = Signal(int)

    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.model = ProblemsModel(document, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.clicked.connect(self._clicked)
        self.table.activated.connect(self._clicked)
        self.model.modelReset.connect(self.table.resizeRowsToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def _clicked(self, index: QModelIndex) -> None:
        layer = self.model.data(index, Qt.ItemDataRole.UserRole)
        if layer is not None:
            self.layer_activated.emit(int(layer))
