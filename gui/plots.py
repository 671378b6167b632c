"""Plots built when first needed: pyqtgraph's import takes 0.5-1 s on two cores, longer
than the rest of the app's start (issue 15), and no plot shows when the window opens.

`PlotSlot` holds a plot's place in a layout; `plot()` builds it (importing pyqtgraph)
the first time it is asked for. `PLOT_MODULE` is imported in the background after the
first stream (gui/torch_loader.py), so a first click on a tensor rarely waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget

PLOT_MODULE = "pyqtgraph"


def pyqtgraph() -> Any:
    """The pyqtgraph module, imported on first use."""
    import pyqtgraph as pg

    return pg


class PlotSlot(QWidget):
    """A plot's place: empty until `plot()` first builds the plot with `build`."""

    def __init__(self, build: Callable[[], QWidget], minimum_height: int = 0, parent=None):
        super().__init__(parent)
        self._build = build
        self._plot: Any = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(minimum_height)

    @property
    def built(self) -> bool:
        return self._plot is not None

    def plot(self) -> Any:
        """The plot (a pyqtgraph PlotWidget), built now if it was not yet."""
        if self._plot is None:
            self._plot = self._build()
            self._layout.addWidget(self._plot)
        return self._plot
