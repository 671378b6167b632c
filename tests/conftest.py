"""Shared fixtures: the reference zoo beside the checkout (skipped when absent)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT.parent / "shared" / "zoo"


def zoo_path(*parts: str) -> Path:
    """A path inside ../shared/zoo; skips the calling test when the zoo is absent."""
    path = ZOO.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path} (needs ../shared/zoo beside the "
                    "checkout)")
    return path


@pytest.fixture
def zoo() -> Path:
    return zoo_path()


@pytest.fixture
def yolo_fastest() -> tuple[Path, Path]:
    folder = zoo_path("yolo-fastest-1.1")
    return folder / "yolo-fastest-1.1.cfg", folder / "yolo-fastest-1.1.weights"


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch):
    """A modal question would hang a headless test: fail instead, unless a test answers
    (tests/gui/conftest.py `answer_questions`). Only where Qt is already loaded."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None:
        return

    def unexpected(*args):
        raise AssertionError(f"unexpected modal question: {args[1:3]}")

    monkeypatch.setattr(widgets.QMessageBox, "question", unexpected)
