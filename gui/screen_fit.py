"""The window on the screen it opens on: a first start that fits (1366x768 too), and a
restored geometry moved and shrunk into the available area when the screen got smaller."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

PREFERRED = QSize(1400, 900)
MARGIN = 0.94  # leave room for window frames and panels


def first_start_size(available: QRect, preferred: QSize = PREFERRED) -> QSize:
    """The preferred size, or the most of the available area it may take."""
    return QSize(min(preferred.width(), int(available.width() * MARGIN)),
                 min(preferred.height(), int(available.height() * MARGIN)))


def clamped(frame: QRect, available: QRect) -> QRect:
    """`frame` no larger than `available` and moved inside it."""
    width = min(frame.width(), available.width())
    height = min(frame.height(), available.height())
    x = min(max(frame.x(), available.x()), available.right() + 1 - width)
    y = min(max(frame.y(), available.y()), available.bottom() + 1 - height)
    return QRect(x, y, width, height)


def fit_window(window) -> None:
    """Shrink and move a top-level window (frame included) into its screen's available
    area; nothing when it already fits."""
    screen = window.screen()
    if screen is None:
        return
    available = screen.availableGeometry()
    frame = window.frameGeometry()
    target = clamped(frame, available)
    if target == frame:
        return
    extra_w = frame.width() - window.width()
    extra_h = frame.height() - window.height()
    window.resize(target.width() - extra_w, target.height() - extra_h)
    window.move(target.topLeft())


def scrolling(panel: QWidget) -> QScrollArea:
    """`panel` in a frameless scroll area: a tall panel (a tensor's statistics, histogram
    and filter norms) then scrolls instead of raising the window's minimum height past a
    small screen."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
