"""The Problems panel: the diagnosis (every cause with its evidence and fix), every
diagnostic of the cfg and the weights, and each tensor raising a health flag, under a
legend of the tree's marks; a click selects the layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument

if TYPE_CHECKING:  # imported when a diagnosis runs (issue 15: the app's start)
    from darknet_inspector.core.diagnosis import Finding

PROBLEM_COLUMNS = ("Severity", "Layer", "Line", "Message")
NO_PARENT = QModelIndex()
FLAG_MARK = "\u26a0"
DIVERGENT_MARK = "\u2691"
LEGEND = (f"{FLAG_MARK} a tensor raises a health flag (NaN/Inf, negative or near-zero "
          "batch-norm variance, dead filters, all zeros): its \u201cflag\u201d rows here "
          f"\u00b7 {DIVERGENT_MARK} orange: the first layer where cfg and weights disagree "
          "(top cause) \u00b7 red: where the weights ran out, and after")


@dataclass(frozen=True)
class ProblemRow:
    """One row of the panel: `severity` is error | warning | cause N | evidence | fix |
    flag."""

    severity: str
    message: str
    layer: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in (("layer", self.layer), ("line", self.line))
                          if v is not None)
        return f"{self.severity}: " + (f"[{where}] " if where else "") + self.message


def finding_rows(number: int, finding: Finding) -> list[ProblemRow]:
    """A cause, then its evidence and its fix, each a row at the cause's layer."""
    mark = "verified" if finding.verified else "not verified"
    rows = [ProblemRow(f"cause {number}", f"{finding.cause} ({mark}): {finding.message}",
                       finding.layer, finding.line)]
    rows += [ProblemRow("evidence", item, finding.layer, finding.line)
             for item in finding.evidence]
    if finding.fix:
        rows.append(ProblemRow("fix", finding.fix, finding.layer, finding.line))
    return rows


def flag_rows(doc: ModelDocument) -> list[ProblemRow]:
    """Each tensor raising a health flag (the tree's \u26a0), with its flags as sentences."""
    return [ProblemRow("flag", f"{FLAG_MARK} {layer}.{name}: {'; '.join(stats.messages)}",
                       layer, doc.layers[layer].line if layer < len(doc.layers) else None)
            for (layer, name), stats in sorted(doc.stats.items()) if stats.flags]


def problem_rows(doc: ModelDocument) -> list[ProblemRow]:
    """The diagnosis first (most likely cause first), then errors, warnings and flags."""
    rows: list[ProblemRow] = []
    for number, finding in enumerate(doc.findings or [], start=1):
        rows += finding_rows(number, finding)
    errors_first = sorted(doc.diagnostics(), key=lambda d: d.severity != "error")
    rows += [ProblemRow(d.severity, d.message, d.layer, d.line) for d in errors_first]
    return rows + flag_rows(doc)


SEVERITY_COLOURS = {"error": palette.ERROR_TEXT, "fix": palette.OK_TEXT}


class ProblemsModel(QAbstractTableModel):
    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self.problems: list[ProblemRow] = []
        document.problems_changed.connect(self.refresh)

    def refresh(self) -> None:
        self.beginResetModel()
        self.problems = problem_rows(self.doc)
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
            if problem.severity.startswith("cause"):
                return palette.DIVERGENT_TEXT
            return SEVERITY_COLOURS.get(problem.severity, palette.MUTED_TEXT)
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
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"color: {palette.MUTED_TEXT.name()};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.legend)

    def _clicked(self, index: QModelIndex) -> None:
        layer = self.model.data(index, Qt.ItemDataRole.UserRole)
        if layer is not None:
            self.layer_activated.emit(int(layer))
