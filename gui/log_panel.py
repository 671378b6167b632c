"""The log panel: what the app did and every error a worker reported, with tracebacks."""

from __future__ import annotations

import time

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit


class LogPanel(QPlainTextEdit):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

    def add(self, message: str, level: str = "info", details: str = "") -> None:
        stamp = time.strftime("%H:%M:%S")
        self.appendPlainText(f"{stamp} {level:<7} {message}")
        if details:
            self.appendPlainText(details.rstrip())
