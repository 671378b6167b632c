"""Verify tab: runs the comparison in a worker, shows a row per layer, colours the first
divergent layer and the layers where OpenCV differs from Darknet."""

from __future__ import annotations

import pytest
import torch

from darknet_inspector.core.model import load_model
from darknet_inspector.core.verify import VerifyReport, compare_with_opencv, verify_input
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.verify_view import COL_NOTE, COL_STATUS, VerifyTab
from tests.gui.helpers import conv_cfg, write_model

pytest.importorskip("cv2")
TIMEOUT_MS = 60_000


@pytest.fixture
def tab(qtbot, settings):
    doc = ModelDocument()
    messages: list[tuple] = []
    view = VerifyTab(doc, settings, lambda *args: messages.append(args))
    view.messages = messages
    qtbot.addWidget(view)
    yield view
    view.shutdown()


def load(tab, cfg, weights) -> None:
    from darknet_inspector.core.network import load_network

    tab.doc.set_network(str(cfg), load_network(cfg))
    tab.doc.begin_stream(str(weights))
    tab.model_ready(True)


def run(qtbot, tab) -> VerifyReport:
    with qtbot.waitSignal(tab.report_ready, timeout=TIMEOUT_MS) as blocker:
        tab.run_button.click()
    return blocker.args[0]


def test_run_shows_every_layer_and_says_all_agree(qtbot, tab, tmp_path):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(3))
    load(tab, cfg, weights)
    report = run(qtbot, tab)
    assert report.comparisons[0].available
    assert tab.table.rowCount() == len(network.layers) == 3
    assert [tab.table.item(r, COL_STATUS).text() for r in range(3)] == ["ok"] * 3
    assert "every layer agrees" in tab.status.text()
    assert tab.reference.count() == len(report.comparisons)


def test_first_divergent_layer_is_coloured_strong_and_later_ones_light(qtbot, tab, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(4))
    model, _ = load_model(cfg, weights)
    with torch.no_grad():
        model.layers[1].weights[0, 0, 1, 1] += 3.0
    x, described = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    load(tab, cfg, weights)
    tab.show_report(VerifyReport(str(cfg), str(weights), described, [comparison]))
    assert tab.table.item(0, 0).background().color() != palette.ERROR_STRONG
    assert tab.table.item(1, 0).background().color() == palette.ERROR_STRONG
    assert tab.table.item(2, 0).background().color() == palette.ERROR_LIGHT
    assert "first divergent layer 1" in tab.status.text()


def test_layers_where_opencv_differs_are_yellow_with_the_reason(qtbot, tab, tmp_path):
    conv = "\n[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    text = conv_cfg(1) + conv.replace("pad=1", "pad=1\ndilation=2") + conv
    cfg, weights, network, _ = write_model(tmp_path, text)
    load(tab, cfg, weights)
    run(qtbot, tab)
    assert tab.table.item(1, 0).background().color() == palette.WARNING_LIGHT
    assert "dilation" in tab.table.item(1, COL_NOTE).text()
    assert tab.table.item(2, 0).background().color() == palette.WARNING_LIGHT
    assert "every layer agrees" in tab.status.text()


def test_double_click_selects_the_layer(qtbot, tab, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    load(tab, cfg, weights)
    run(qtbot, tab)
    with qtbot.waitSignal(tab.layer_activated) as blocker:
        tab.table.cellDoubleClicked.emit(2, 0)
    assert blocker.args == [2]


def test_run_is_disabled_until_a_model_is_ready_and_cleared_on_new_cfg(qtbot, tab, tmp_path):
    assert not tab.run_button.isEnabled()
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    load(tab, cfg, weights)
    run(qtbot, tab)
    assert tab.table.rowCount() == 2
    load(tab, cfg, weights)
    assert tab.table.rowCount() == 0 and tab.report is None


def test_main_window_verify_action_runs_in_the_verify_tab(qtbot, window, tmp_path):
    from tests.gui.conftest import open_and_stream

    assert not window.verify_action.isEnabled()
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert window.verify_action.isEnabled()
    with qtbot.waitSignal(window.verify_tab.report_ready, timeout=TIMEOUT_MS):
        window.verify_action.trigger()
    assert window.tabs.currentWidget() is window.verify_tab
    assert window.verify_tab.table.rowCount() == 2
    window.verify_tab.table.cellDoubleClicked.emit(1, 0)
    assert window.tabs.currentIndex() == 0
