"""GUI fixtures: a main window with its own settings file (user settings stay untouched)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from darknet_inspector.gui.main_window import MainWindow  # noqa: E402
from darknet_inspector.gui.settings import AppSettings  # noqa: E402
from darknet_inspector.gui.torch_loader import MODEL_MODULES  # noqa: E402

for _module in MODEL_MODULES:  # loaded: every window builds its model tabs at once
    importlib.import_module(_module)  # (tests/gui/test_torch_loader.py: the wait for it)

STREAM_TIMEOUT_MS = 20_000


def answer_questions(monkeypatch, answer: str = "Yes") -> list:
    """Answer every modal question with `answer`; returns the questions asked."""
    from PySide6.QtWidgets import QMessageBox

    asked: list = []

    def question(*args):
        asked.append(args[2])
        return getattr(QMessageBox.StandardButton, answer)

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, settings) -> MainWindow:
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_stream(qtbot, window: MainWindow, cfg, weights) -> str:
    """Open cfg + weights and wait for the stream to end; returns the final state."""
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_cfg(str(cfg), str(weights))
    return blocker.args[0]
