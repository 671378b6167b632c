"""The few colours the app uses to say good / bad / unread, in one place."""

from __future__ import annotations

from PySide6.QtGui import QColor

ERROR_STRONG = QColor("#f1a7ad")  # the layer where reading failed
ERROR_LIGHT = QColor("#fadadd")  # layers after it, layers with cfg errors
WARNING_LIGHT = QColor("#fff1c6")
DIVERGENT = QColor("#ffc98a")  # the first layer where cfg and weights disagree (top cause)
DIVERGENT_TEXT = QColor("#9a4a00")
OK_TEXT = QColor("#1b7a34")
ERROR_TEXT = QColor("#a3111f")
MUTED_TEXT = QColor("#80868b")

BANNER_STYLES = {
    "info": ("#e8f0fe", "#1a4a8a", "#a8c4f0"),
    "busy": ("#eef1f5", "#33414f", "#c3cbd6"),
    "ok": ("#e6f4ea", "#17602a", "#a8d5b5"),
    "warning": ("#fff4d6", "#6b4a00", "#f0cf7a"),
    "error": ("#fde7e9", "#8c0d1b", "#f0a2ab"),
}


def show_status(label, text: str, error: bool = False) -> None:
    """A status line: the message, in the error colour when it reports a failure."""
    label.setStyleSheet(f"color: {ERROR_TEXT.name()};" if error else "")
    label.setText(text)
