"""The selected layer's cfg section, with its line numbers and problem lines marked."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument


def section_line_range(doc: ModelDocument, index: int) -> tuple[int, int]:
    """First and last cfg line of layer `index`'s section (trailing blank lines dropped)."""
    assert doc.network is not None
    cfg = doc.network.cfg
    lines = cfg.lines()
    section = doc.network.layers[index].section
    position = cfg.sections.index(section)
    end = cfg.sections[position + 1].line - 1 if position + 1 < len(cfg.sections) else len(lines)
    while end > section.line and not lines[end - 1].strip():
        end -= 1
    return section.line, end


class CfgSectionView(QWidget):
    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.doc = document
        self.title = QLabel("Select a layer to see its cfg section.")
        self.title.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        document.network_changed.connect(self.clear)

    def clear(self) -> None:
        self.title.setText("Select a layer to see its cfg section.")
        self.text.clear()

    def show_layer(self, index: int) -> None:
        if self.doc.network is None or not 0 <= index < len(self.doc.layers):
            self.clear()
            return
        layer = self.doc.layers[index]
        first, last = section_line_range(self.doc, index)
        lines = self.doc.network.cfg.lines()
        width = len(str(last))
        body = [f"{n:>{width}}  {lines[n - 1]}" for n in range(first, last + 1)]
        self.text.setPlainText("\n".join(body))
        name = self.doc.cfg_path or "cfg"
        self.title.setText(f"Layer {index} \u2014 [{layer.section.name}], "
                           f"{name.rsplit('/', 1)[-1]} lines {first}\u2013{last}")
        problem_lines = {d.line for d in self.doc.layer_diagnostics(index) if d.line}
        self._mark(sorted(n - first for n in problem_lines if first <= n <= last))

    def _mark(self, rows: list[int]) -> None:
        selections = []
        for row in rows:
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(palette.ERROR_LIGHT)
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            cursor = QTextCursor(self.text.document().findBlockByNumber(row))
            selection.cursor = cursor
            selections.append(selection)
        self.text.setExtraSelections(selections)
