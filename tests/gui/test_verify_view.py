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
from tests.gui.helpers import WINDOW_SIZES, conv_cfg, header_gap, write_model

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


# -- progress and Cancel (issue 14) ---------------------------------------------------------

@pytest.fixture
def demo(tab):
    """The tab with the bundled demo model open and its sample image chosen."""
    from darknet_inspector.core.demo import demo_files

    files = demo_files()
    if not files.weights.is_file():
        pytest.skip("the bundled demo model is not installed")
    load(tab, files.cfg, files.weights)
    tab.image.setText(str(files.image))
    return tab


@pytest.fixture
def held_forward(monkeypatch):
    """Our forward pass waits until the test lets it go (`.set()`), so a click lands
    while the job is at a known step."""
    import threading

    from darknet_inspector.core import verify as core_verify

    gate = threading.Event()
    real = core_verify.all_outputs_steps

    def held(*args, **kwargs):
        steps = real(*args, **kwargs)
        yield next(steps)  # "our forward pass", 0 layers done
        gate.wait(TIMEOUT_MS / 1000)
        return (yield from steps)

    monkeypatch.setattr(core_verify, "all_outputs_steps", held)
    yield gate
    gate.set()


def test_the_bar_is_determinate_and_moves_stage_by_stage_to_the_end(qtbot, demo):
    seen: list[tuple[int, int, str]] = []
    with qtbot.waitSignal(demo.report_ready, timeout=TIMEOUT_MS):
        demo.run_button.click()
        demo.runner.yielded.connect(lambda _record: seen.append(
            (demo.progress.maximum(), demo.progress.value(), demo.status.text())))
    assert all(maximum > 0 for maximum, _, _ in seen)  # determinate, not a busy bar
    values = [value for _, value, _ in seen]
    assert values == sorted(values) and len(set(values)) > 10
    assert values[0] < values[-1] == demo.progress.maximum()
    texts = {text for _, _, text in seen}
    assert any(text.startswith("Verifying: our forward pass (") for text in texts)
    assert any(text.startswith("Verifying: comparing with OpenCV layer by layer (")
               for text in texts)
    qtbot.waitUntil(lambda: not demo.running, timeout=TIMEOUT_MS)
    assert demo.progress.isHidden() and not demo.cancel_button.isEnabled()
    assert demo.table.rowCount() == len(demo.doc.network.layers)


def test_cancel_mid_run_ends_cancelled_without_the_previous_result(qtbot, demo,
                                                                    held_forward):
    held_forward.set()
    run(qtbot, demo)
    qtbot.waitUntil(lambda: demo.run_button.isEnabled(), timeout=TIMEOUT_MS)
    assert demo.table.rowCount() > 0 and demo.report is not None
    held_forward.clear()  # the second run waits in our forward pass
    reports: list = []
    demo.report_ready.connect(reports.append)
    demo.run_button.click()
    assert demo.table.rowCount() == 0 and demo.report is None  # no stale rows meanwhile
    qtbot.waitUntil(lambda: "our forward pass" in demo.status.text(), timeout=TIMEOUT_MS)
    assert demo.cancel_button.isEnabled() and not demo.progress.isHidden()
    at_cancel = demo.progress.value()
    assert 0 < at_cancel < demo.progress.maximum()
    with qtbot.waitSignal(demo.runner.finished, timeout=TIMEOUT_MS):
        demo.cancel_button.click()
        held_forward.set()  # the job stops at its next step, before comparing any layer
    assert demo.status.text() == "Verification cancelled."
    assert reports == [] and demo.report is None and demo.table.rowCount() == 0
    assert demo.progress.isHidden() and not demo.cancel_button.isEnabled()
    assert demo.run_button.isEnabled()
    assert ("verification cancelled",) in demo.messages


def test_a_run_of_a_replaced_model_is_stopped_and_says_nothing_more(qtbot, demo,
                                                                   held_forward):
    demo.run_button.click()
    qtbot.waitUntil(lambda: "our forward pass" in demo.status.text(), timeout=TIMEOUT_MS)
    from darknet_inspector.core.network import load_network

    runner, stopped = demo.runner, []
    runner.cancelled.connect(lambda: stopped.append(True))
    cfg = demo.doc.network.path
    demo.doc.set_network(cfg, load_network(cfg))  # reopened: the old run's steps and its
    hint = demo.status.text()  # cancel are no news
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        held_forward.set()
    assert stopped == [True]  # stopped at its next step, not run to its end
    assert demo.status.text() == hint and "Verifying" not in hint
    assert demo.report is None and demo.table.rowCount() == 0
    assert ("verification cancelled",) not in demo.messages


def test_the_columns_fill_the_table_width_and_the_note_takes_the_room(qtbot, tab, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    model, _ = load_model(cfg, weights)
    x, described = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    load(tab, cfg, weights)
    tab.show_report(VerifyReport(str(cfg), str(weights), described, [comparison, comparison]))
    tab.show()
    header = tab.table.horizontalHeader()
    for width, height in WINDOW_SIZES:
        tab.resize(width, height)
        for reference in (1, 0):  # showing another reference refills the table
            tab.reference.setCurrentIndex(reference)
            qtbot.waitUntil(lambda wide=width - 100: tab.table.viewport().width() > wide)
            assert header_gap(tab.table) == 0, (width, reference)
            assert header.sectionSize(COL_NOTE) == max(header.sectionSize(c)
                                                        for c in range(header.count()))
