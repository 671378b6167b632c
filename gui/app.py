"""Start the desktop app: `darknet-inspector [gui] [CFG [WEIGHTS]]`."""

from __future__ import annotations

import os
import sys

from darknet_inspector.core.cli import quiet_library_warnings
from darknet_inspector.core.errors import UsageError
from darknet_inspector.resources import resource_path

RESOURCES = resource_path()
ICON_NAMES = ("darknet-inspector.svg", "darknet-inspector.png")
# Workers hold the GIL between numpy calls; every Qt callback into Python (each data()
# of a repaint) then waits for it. A shorter switch interval keeps those waits short.
GIL_SWITCH_INTERVAL_S = 0.001


def check_display() -> None:
    """On Linux without a display Qt aborts the process; say so in one clear line instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise UsageError("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): the "
                     "desktop app needs a screen; use `darknet-inspector inspect CFG "
                     "[WEIGHTS]` instead, or set QT_QPA_PLATFORM=offscreen")


def app_icon():
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for name in ICON_NAMES:
        path = RESOURCES / name
        if path.is_file():
            icon.addFile(str(path))
    return icon


def make_application():
    """The QApplication (reused if one exists), named and with the app icon."""
    from PySide6.QtWidgets import QApplication

    from darknet_inspector.gui.settings import APPLICATION, ORGANISATION

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Darknet Inspector")
    app.setDesktopFileName("darknet-inspector")
    app.setWindowIcon(app_icon())
    return app


def run_app(cfg: str | None, weights: str | None) -> int:
    """Show the main window (opening CFG and WEIGHTS if given) and run until it closes."""
    check_display()
    app = make_application()
    quiet_library_warnings()  # the Log panel reports problems; no library text on stderr
    if weights or cfg:  # the stream's stats process starts while the window is built
        from darknet_inspector.core.stats_process import StatsChild

        StatsChild.prestart()
    from darknet_inspector.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if cfg:
        cfg, weights = cfg_first(cfg, weights)
        window.open_cfg(cfg, weights)
    else:
        window.open_demo()
    return app.exec()


def cfg_first(first: str, second: str | None) -> tuple[str, str | None]:
    """A file manager passes dropped files in any order: `x.weights x.cfg` means the
    cfg is the second one."""
    if second and first.lower().endswith(".weights") and second.lower().endswith(".cfg"):
        return second, first
    return first, second
