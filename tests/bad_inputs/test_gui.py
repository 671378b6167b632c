"""A representative subset of the bad-input corpus opened in the desktop app: the verdict
banner (or the Problems panel, for warnings) says what the command line says, naming the
layer; the app stays up; nothing blocks on a modal dialog."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.bad_inputs.corpus import (  # noqa: E402
    BASE_CFG,
    EXIT_OK,
    EXIT_UNUSABLE,
    GUI_CASES,
    Case,
    base_weights,
    edited,
)
from tests.gui import conftest as gui_fixtures  # noqa: E402

STREAM_TIMEOUT_MS = gui_fixtures.STREAM_TIMEOUT_MS
settings = gui_fixtures.settings  # the GUI tests' fixtures: a window with its own settings
window = gui_fixtures.window


def open_like_the_cli(qtbot, window, case: Case, folder) -> None:
    """Open the case's cfg (and weights) as File → Open would, waiting for the stream."""
    cfg, *weights = [arg for arg in case.make(folder)[1:] if not arg.startswith("-")][:2]
    if window.open_cfg(cfg) and weights:
        with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
            window.open_weights(weights[0])


@pytest.mark.parametrize("case", GUI_CASES, ids=lambda case: case.id)
def test_bad_input_in_the_app_shows_the_same_message(case: Case, qtbot, window, tmp_path):
    open_like_the_cli(qtbot, window, case, tmp_path)
    qtbot.wait(50)
    banner = window.banner.text()
    problems = " | ".join(str(p) for p in window.problems.model.problems)
    if case.code == EXIT_OK:
        shown = problems  # a warning: listed in Problems, the banner stays calm
        assert window.banner.level != "error"
    else:
        shown = banner
        assert window.banner.level == "error"
    for words in case.says:
        assert words.lower() in shown.lower(), shown
    if case.layer is not None and case.code != EXIT_UNUSABLE:
        assert f"layer {case.layer}" in shown.lower()
    assert "Traceback" not in banner
    assert window.isVisible() and QApplication.activeModalWidget() is None
    if case.code == EXIT_UNUSABLE:
        assert "error" in window.log_panel.toPlainText()


def test_the_app_refuses_to_convert_a_model_beyond_the_memory_limit(qtbot, window, tmp_path):
    """The GUI uses the default limit: a width=100000 height=100000 cfg opens, its (tiny)
    weights stream, and converting it is refused with the limit's message."""
    cfg = tmp_path / "wide.cfg"
    cfg.write_text(edited(("width=32", "width=100000"), ("height=32", "height=100000")))
    weights = tmp_path / "wide.weights"
    weights.write_bytes(base_weights())
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_cfg(str(cfg), str(weights))
    assert blocker.args == ["done"] and window.doc.ledger.status == "ok"
    dialog = window.open_convert_dialog()
    assert dialog is not None
    target = tmp_path / "wide.pt"
    dialog.output.setText(str(target))
    dialog.start()
    qtbot.waitUntil(lambda: "conversion failed" in window.log_panel.toPlainText(),
                    timeout=STREAM_TIMEOUT_MS)
    assert "refused before allocating" in dialog.status.text()
    assert "--max-memory-mb" in dialog.status.text()
    assert not target.exists()
    qtbot.waitUntil(lambda: not dialog.runner.running)
    dialog.close()


def test_a_good_model_opens_cleanly_after_a_bad_one(qtbot, window, tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_bytes(bytes(range(256)))
    assert window.open_cfg(str(bad)) is False
    good = tmp_path / "good.cfg"
    good.write_text(BASE_CFG)
    weights = tmp_path / "good.weights"
    weights.write_bytes(base_weights())
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_cfg(str(good), str(weights))
    assert blocker.args == ["done"] and window.banner.level == "ok"
