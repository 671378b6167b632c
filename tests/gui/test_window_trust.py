"""Which model is open, where it lives, and keeping it current: recent entries with their
folders, the path in title and banner, reload (F5 and a file watch), a window that fits
the screen (issue 14.4, 14.5, 14.8)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QKeySequence

from darknet_inspector.gui.main_window import MainWindow
from darknet_inspector.gui.screen_fit import clamped, first_start_size
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

WATCH_TIMEOUT_MS = 10_000


def two_models_of_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_model(tmp_path / "a", conv_cfg(1), "yolo")
    second = write_model(tmp_path / "b", conv_cfg(2), "yolo")
    return first, second


def test_recent_entries_show_their_folder_and_full_paths(qtbot, window, tmp_path):
    (cfg_a, w_a, _, _), (cfg_b, w_b, _, _) = two_models_of_one_name(tmp_path)
    open_and_stream(qtbot, window, cfg_a, w_a)
    open_and_stream(qtbot, window, cfg_b, w_b)
    window._fill_recent()
    actions = window.recent_menu.actions()
    texts = [a.text() for a in actions]
    assert len(set(texts)) == 2, texts  # two yolo.cfg + yolo.weights told apart
    assert str(tmp_path / "b") in texts[0] or "b" in texts[0].rsplit("\u2014", 1)[1]
    assert str(cfg_b) in actions[0].toolTip() and str(w_b) in actions[0].toolTip()


def test_title_and_banner_show_the_path(qtbot, window, tmp_path):
    (cfg, weights, _, _), _ = two_models_of_one_name(tmp_path)
    open_and_stream(qtbot, window, cfg, weights)
    assert str(tmp_path / "a") in window.windowTitle()
    assert str(cfg) in window.banner._label.text()
    assert str(weights) in window.banner._label.text()


def test_f5_reloads_the_edited_cfg_keeping_layer_and_tab(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    open_and_stream(qtbot, window, cfg, weights)
    window.layers.select(1)
    window.tabs.setCurrentWidget(window.verify_tab)
    assert window.reload_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Refresh)
    window.watch.watch([])  # only F5 here
    cfg.write_text(conv_cfg(3).replace("activation=leaky", "activation=mish", 1))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.reload_action.trigger()
    assert "mish" in window.doc.network.cfg.text
    assert window.tabs.currentWidget() is window.verify_tab
    assert window._current is not None and window._current[0] == 1


def test_a_cfg_replaced_on_disk_reloads_by_itself(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    open_and_stream(qtbot, window, cfg, weights)
    assert str(cfg) in window.watch.paths
    replacement = tmp_path / "model.cfg.new"  # the way editors save: write, then rename
    replacement.write_text(conv_cfg(2).replace("filters=8", "filters=4", 1))
    with qtbot.waitSignal(window.stream_finished, timeout=WATCH_TIMEOUT_MS):
        os.replace(replacement, cfg)
    assert window.doc.network.layers[0].output_shape[0] == 4
    # and the watch survived the replacement
    cfg.write_text(conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=WATCH_TIMEOUT_MS):
        pass
    assert window.doc.network.layers[0].output_shape[0] == 8


def test_first_start_fits_a_1366x768_screen():
    available = QRect(0, 0, 1366, 728)  # minus a task bar
    size = first_start_size(available)
    assert size.width() <= 1366 and size.height() <= 728
    assert first_start_size(QRect(0, 0, 1920, 1040)) == QSize(1400, 900)


def test_restored_geometry_is_clamped_to_the_screen(qtbot, settings):
    big = MainWindow(settings)
    qtbot.addWidget(big)
    big.setGeometry(3000, 2000, 4000, 3000)  # saved on a huge screen
    big.save_layout()
    big.close()
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    available = window.screen().availableGeometry()
    smallest = window.minimumSizeHint()
    assert window.width() <= max(available.width(), smallest.width())
    assert window.height() <= max(available.height(), smallest.height())
    assert available.contains(window.geometry().topLeft())
    assert clamped(QRect(-50, -50, 100, 100), QRect(0, 0, 80, 80)) == QRect(0, 0, 80, 80)


def test_first_start_window_fits_a_1366x768_screen(qtbot, settings, monkeypatch):
    from PySide6.QtGui import QScreen

    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(0, 0, 1366, 728))
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert window.width() <= 1366 and window.height() <= 728


def test_with_nothing_selected_the_histogram_is_a_hint(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    view = window.tensor_view
    view.clear()
    assert view.hint.isVisible() and not view.histogram.isVisible()
    window.layers.select(0, "weights")
    assert view.histogram.isVisible() and not view.hint.isVisible()


@pytest.mark.parametrize(("saved", "available", "expected"), [
    # saved on a larger screen: shrunk to the whole available area
    (QRect(0, 0, 4000, 3000), QRect(0, 0, 1366, 728), QRect(0, 0, 1366, 728)),
    # beyond the right and bottom edges: moved back in, size kept
    (QRect(3000, 2000, 800, 600), QRect(0, 0, 1366, 728), QRect(566, 128, 800, 600)),
    # left of and above a screen whose area does not start at 0,0 (a task bar, a 2nd monitor)
    (QRect(-200, -100, 800, 600), QRect(1920, 40, 1366, 728), QRect(1920, 40, 800, 600)),
    # both: too large and off to the side
    (QRect(5000, -300, 2000, 1000), QRect(0, 32, 1366, 736), QRect(0, 32, 1366, 736)),
    # already inside: unchanged
    (QRect(100, 100, 800, 600), QRect(0, 0, 1366, 728), QRect(100, 100, 800, 600)),
])
def test_clamped_fits_a_saved_geometry_into_the_available_area(saved, available, expected):
    result = clamped(saved, available)
    assert result == expected
    assert available.contains(result)


def test_restore_clamps_to_our_available_area_not_only_qts(qtbot, settings, monkeypatch):
    """Qt's restoreGeometry keeps a window on the real screen by itself; the available area
    we are told (smaller than the screen here, as with a task bar) is ours to keep."""
    from PySide6.QtGui import QScreen

    big = MainWindow(settings)
    qtbot.addWidget(big)
    big.setGeometry(0, 0, 4000, 3000)
    big.save_layout()
    big.close()
    small = MainWindow(settings)  # the smallest size it can have, with nothing restored
    qtbot.addWidget(small)
    smallest = small.minimumSizeHint()
    area = QRect(40, 30, smallest.width() + 20, smallest.height() + 20)
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: area)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert area.contains(window.frameGeometry()), (window.frameGeometry(), area)


def test_the_window_can_shrink_to_a_1366x768_screen_with_a_tensor_shown(qtbot, window,
                                                                       tmp_path):
    """Every tab's and panel's minimum together must fit the 728 px a 1366x768 screen has
    after a task bar, also once a tensor's histogram and filter norms are shown (the
    window grew to 806 px there, pushing the status bar off the screen)."""
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    open_and_stream(qtbot, window, cfg, weights)
    window.show()
    window.layers.select(0, "weights")
    qtbot.wait(50)
    assert window.tensor_view.histogram.isVisible()
    assert window.minimumSizeHint().height() <= 728
    assert window.minimumSizeHint().width() <= 1366
    window.resize(1366, 728)
    qtbot.wait(50)
    assert window.height() <= 728
