"""Never replace an existing file the user has not agreed to replace."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QMessageBox, QWidget


def may_write(parent: QWidget, path: str, confirmed: str | None = None) -> bool:
    """True when `path` does not exist yet, was already confirmed in a save dialog
    (`confirmed`), or the user agrees now to replace it."""
    if not os.path.exists(path):
        return True
    if confirmed is not None and os.path.abspath(confirmed) == os.path.abspath(path):
        return True
    answer = QMessageBox.question(
        parent, "Replace file?", f"{path} already exists. Replace it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
