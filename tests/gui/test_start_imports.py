"""Starting the app with a cfg shows the window and its layer tree without importing
torch (issue 15): torch takes 1.5-2.5 s to import on two cores and only the tabs that run
the model need it; it is imported in the background once the window is up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.gui.helpers import conv_cfg

START_CHECK = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

def exec_(app):
    window = next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")
    print("torch at exec:", "torch" in sys.modules)
    print("later at exec:", [m for m in ("pyqtgraph", "darknet_inspector.core.diagnosis")
                             if m in sys.modules])
    print("rows:", window.layers.tree.model().rowCount(), "visible:", window.isVisible())
    QTimer.singleShot(0, app.quit)
    return REAL_EXEC()

REAL_EXEC = QApplication.exec
QApplication.exec = exec_
from darknet_inspector.launcher import main
sys.exit(main(["gui", sys.argv[1]]))
"""


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> str:
    """What the app printed when its event loop started, with a 3-layer cfg."""
    tmp_path = tmp_path_factory.mktemp("start")
    cfg = tmp_path / "model.cfg"
    cfg.write_text(conv_cfg(3))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", START_CHECK, str(cfg)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr[-2000:]


def test_the_window_shows_the_tree_before_torch_is_imported(started):
    assert "torch at exec: False" in started, started
    assert "rows: 3 visible: True" in started


def test_the_window_opens_without_pyqtgraph_or_the_diagnosis_engine(started):
    """pyqtgraph (0.5-1 s) waits for the first plot shown, the diagnosis engine for the
    first diagnosis: the start shows neither (issue 15)."""
    assert "later at exec: []" in started, started
