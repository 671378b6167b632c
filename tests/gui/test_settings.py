"""What persists between runs: recent models, thresholds, folders, window layout."""

from __future__ import annotations

from darknet_inspector.gui.main_window import MainWindow
from tests.gui.conftest import open_and_stream
from tests.gui.helpers import conv_cfg, write_model


def test_recent_models_and_folders_survive_a_restart(qtbot, window, settings, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    window.close()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.settings.recent()[0] == (str(cfg), str(weights))
    assert again.settings.folder("cfg") == str(tmp_path)
    again._fill_recent()
    actions = again.recent_menu.actions()
    assert actions[0].text().startswith("model.cfg + model.weights   \u2014 ")
    with qtbot.waitSignal(again.stream_finished, timeout=20_000):
        actions[0].trigger()
    assert again.doc.ledger.status == "ok"


def test_opening_the_same_cfg_again_keeps_one_recent_entry(window, settings, tmp_path):
    cfg, _, _, _ = write_model(tmp_path, conv_cfg(1))
    window.open_cfg(str(cfg))
    window.open_cfg(str(cfg))
    assert settings.recent() == [(str(cfg), None)]


def test_window_layout_is_restored(qtbot, window, settings):
    window.main_split.setSizes([300, 900])
    saved = window.main_split.sizes()
    window.close()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.resize(window.size())
    again.show()
    assert again.main_split.sizes() == saved


def test_thresholds_persist(settings):
    settings.set_number("preview/conf", 0.6)
    assert settings.number("preview/conf", 0.25) == 0.6
    assert settings.number("preview/nms", 0.45) == 0.45


def test_a_close_that_waits_for_a_task_saves_the_layout_at_once(qtbot, window, settings,
                                                                monkeypatch):
    """Closing while a task runs hides the window and finishes later; the layout the
    user left is saved at the close, not when the task ends (a window opened meanwhile
    restores it)."""
    from darknet_inspector.gui import main_window as module

    busy = [True]
    monkeypatch.setattr(module, "cancel_all", lambda: busy[0])
    monkeypatch.setattr(module, "running_tasks", lambda: busy[0])
    window.show()
    window.main_split.setSizes([300, 900])
    saved = window.main_split.sizes()
    window.close()
    assert window.isHidden()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.resize(window.size())
    again.show()
    assert again.main_split.sizes() == saved
    busy[0] = False
    qtbot.waitUntil(lambda: not window._close_when_idle.isActive(), timeout=5000)
