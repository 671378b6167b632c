"""The desktop app under faults: opening a model while another is streaming cancels the old
work cleanly, closing mid-stream exits cleanly, an exception in any worker reaches the user
(banner or status bar) and the log panel, and no error blocks on a modal dialog."""

from __future__ import annotations

import os
import threading
import time

import pytest
from PySide6.QtWidgets import QApplication

from darknet_inspector.core.jobs.convert import ConvertProgress
from darknet_inspector.core.jobs.stream import StreamUpdate, stream_weights
from darknet_inspector.gui import main_window
from darknet_inspector.gui.main_window import MainWindow
from tests.gui.conftest import STREAM_TIMEOUT_MS, answer_questions
from tests.gui.helpers import conv_cfg, write_model

SLOW_LAYER_S = 0.01


@pytest.fixture
def slow_stream(monkeypatch):
    """The real stream with a pause after each layer (so a test can act mid-stream);
    `gate` holds it after its first layer until set."""
    gate = threading.Event()
    gate.set()

    def stream(network, path, **options):
        inner = stream_weights(network, path, **options)
        while True:
            try:
                item = next(inner)
            except StopIteration as stop:
                return stop.value
            yield item
            if isinstance(item, StreamUpdate):
                gate.wait(10)
                time.sleep(SLOW_LAYER_S)

    monkeypatch.setattr(main_window, "stream_weights", stream)
    return gate


def no_modal_dialog() -> bool:
    return QApplication.activeModalWidget() is None


def settle(qtbot, ms: int = 300) -> None:
    """Let queued signals from finished workers arrive."""
    qtbot.wait(ms)


def test_opening_a_new_model_mid_stream_cancels_the_old_one_cleanly(qtbot, window, tmp_path,
                                                                    slow_stream):
    old_folder, new_folder = tmp_path / "old", tmp_path / "new"
    old_folder.mkdir()
    new_folder.mkdir()
    old_cfg, old_weights, _, _ = write_model(old_folder, conv_cfg(40))
    new_cfg, new_weights, _, _ = write_model(new_folder, conv_cfg(3, filters=4))
    window.open_cfg(str(old_cfg), str(old_weights))
    qtbot.waitUntil(lambda: len(window.doc.records) >= 2, timeout=STREAM_TIMEOUT_MS)
    old_runner = window.stream_runner
    finished = []
    window.stream_finished.connect(finished.append)
    window.open_cfg(str(new_cfg), str(new_weights))
    assert old_runner.ended  # cancelled and joined before the new model opened
    qtbot.waitUntil(lambda: "done" in finished, timeout=STREAM_TIMEOUT_MS)
    settle(qtbot)
    assert finished == ["done"]  # the old stream's end is not reported as the new one's
    doc = window.doc
    assert doc.cfg_path == str(new_cfg) and doc.weights_path == str(new_weights)
    assert doc.stream_state == "done" and doc.ledger.status == "ok"
    assert sorted(doc.records) == [0, 1, 2]
    assert all(r.tensors[0].shape[0] == 4 for r in doc.records.values())
    assert window.banner.level == "ok"
    assert window.layers.model.rowCount() == 3


def test_opening_a_broken_cfg_mid_stream_stops_the_stream(qtbot, window, tmp_path,
                                                          slow_stream):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(40))
    window.open_cfg(str(cfg), str(weights))
    qtbot.waitUntil(lambda: len(window.doc.records) >= 1, timeout=STREAM_TIMEOUT_MS)
    runner = window.stream_runner
    broken = tmp_path / "broken.cfg"
    broken.write_bytes(b"\x00\x01garbage")
    assert window.open_cfg(str(broken)) is False
    settle(qtbot)
    assert runner.ended and not window.strip.running
    assert window.doc.network is None and window.doc.records == {}
    assert window.banner.level == "error" and "not a text cfg file" in window.banner.text()
    assert window.isVisible() and no_modal_dialog()


def test_opening_new_weights_mid_stream_replaces_the_old_stream(qtbot, window, tmp_path,
                                                                slow_stream):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(30))
    short = tmp_path / "short.weights"
    short.write_bytes(weights.read_bytes()[:-100])
    window.open_cfg(str(cfg), str(weights))
    qtbot.waitUntil(lambda: len(window.doc.records) >= 2, timeout=STREAM_TIMEOUT_MS)
    finished = []
    window.stream_finished.connect(finished.append)
    window.open_weights(str(short))
    qtbot.waitUntil(lambda: "done" in finished, timeout=STREAM_TIMEOUT_MS)
    settle(qtbot)
    assert finished == ["done"]
    assert window.doc.weights_path == str(short) and window.doc.ledger.status == "short"
    assert window.banner.level == "error" and "layer 29" in window.banner.text()


def test_closing_the_window_mid_stream_exits_cleanly(qtbot, settings, tmp_path, slow_stream):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(40))
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    win.open_cfg(str(cfg), str(weights))
    qtbot.waitUntil(lambda: len(win.doc.records) >= 2, timeout=STREAM_TIMEOUT_MS)
    runner = win.stream_runner
    started = time.perf_counter()
    win.close()  # hides at once; the close completes when the worker has stopped
    assert time.perf_counter() - started < 0.5 and not win.isVisible()
    qtbot.waitUntil(lambda: runner.ended, timeout=5_000)  # stopped at its next layer
    qtbot.waitUntil(lambda: not win._close_when_idle.isActive(), timeout=5_000)
    assert len(win.doc.records) < 40
    settle(qtbot)  # late signals from the stopped worker must not raise


def test_closing_while_a_worker_is_held_does_not_hang(qtbot, settings, tmp_path, slow_stream):
    """A stream stuck between layers is cancelled at its next step; the close waits for it
    with the window hidden and the event loop running (never a frozen window)."""
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(10))
    slow_stream.clear()
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    win.open_cfg(str(cfg), str(weights))
    qtbot.waitUntil(lambda: len(win.doc.records) >= 1, timeout=STREAM_TIMEOUT_MS)
    threading.Timer(0.2, slow_stream.set).start()
    started = time.perf_counter()
    win.close()
    assert time.perf_counter() - started < 0.5 and not win.isVisible()
    qtbot.waitUntil(lambda: win.stream_runner.ended, timeout=8_000)


def test_an_exception_in_the_stream_worker_reaches_the_banner_and_the_log(
        qtbot, window, tmp_path, monkeypatch):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(5))

    def failing(network, path, **options):
        stream = stream_weights(network, path, **options)
        yield next(stream)
        yield next(stream)
        raise ZeroDivisionError("injected fault in the worker")

    monkeypatch.setattr(main_window, "stream_weights", failing)
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_cfg(str(cfg), str(weights))
    assert blocker.args == ["failed"]
    assert window.banner.level == "error"
    assert "injected fault in the worker" in window.banner.text()
    log = window.log_panel.toPlainText()
    assert "injected fault in the worker" in log and "ZeroDivisionError" in log
    assert "Traceback" in log  # the details are in the log, not in the banner
    assert "Traceback" not in window.banner.text()
    assert window.isVisible() and no_modal_dialog()
    assert not window.strip.running


def test_an_exception_opening_a_cfg_reaches_the_banner_and_the_log(window, tmp_path,
                                                                   monkeypatch):
    cfg, _, _, _ = write_model(tmp_path, conv_cfg(2))

    def broken_builder(path, tree=None):
        raise RecursionError("injected fault in the builder")

    monkeypatch.setattr(main_window, "load_network", broken_builder)
    assert window.open_cfg(str(cfg)) is False
    assert window.banner.level == "error"
    assert "injected fault in the builder" in window.banner.text()
    assert "RecursionError" in window.log_panel.toPlainText()
    assert window.isVisible() and no_modal_dialog()


def test_an_exception_in_the_export_worker_reaches_the_log(qtbot, window, tmp_path,
                                                           monkeypatch):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_cfg(str(cfg), str(weights))

    def failing_save(values, path):
        raise OSError(28, "No space left on device")
        yield

    monkeypatch.setattr(main_window, "save_array", failing_save)
    target = tmp_path / "tensor.npy"
    window.export_tensor(0, "weights", str(target))
    qtbot.waitUntil(lambda: "export failed" in window.log_panel.toPlainText(),
                    timeout=STREAM_TIMEOUT_MS)
    assert "No space left on device" in window.log_panel.toPlainText()
    assert "No space left on device" in window.statusBar().currentMessage()
    assert not target.exists() and no_modal_dialog()


def test_an_exception_in_the_convert_worker_reaches_the_dialog_and_the_log(
        qtbot, window, tmp_path, monkeypatch):
    from darknet_inspector.gui import convert_dialog

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_cfg(str(cfg), str(weights))

    def failing_convert(network, weights, options):
        yield ConvertProgress("reading layer 0", 1, 3)
        raise MemoryError

    monkeypatch.setattr(convert_dialog, "convert_model", failing_convert)
    dialog = window.open_convert_dialog()
    assert dialog is not None
    target = tmp_path / "out.pt"
    dialog.output.setText(str(target))
    dialog.start()
    qtbot.waitUntil(lambda: "conversion failed" in window.log_panel.toPlainText(),
                    timeout=STREAM_TIMEOUT_MS)
    assert "out of memory" in window.log_panel.toPlainText()
    assert "out of memory" in dialog.status.text()
    assert not target.exists() and no_modal_dialog()
    qtbot.waitUntil(lambda: not dialog.runner.running)
    dialog.close()


@pytest.fixture
def preview_ready(qtbot, window, tmp_path):
    """A tiny detector open and streamed, ready for the preview tab."""
    from tests.bad_inputs.corpus import DETECT_CFG, detect_weights

    if window.preview is None:
        pytest.skip("the detection preview is not available")
    cfg, weights = tmp_path / "detect.cfg", tmp_path / "detect.weights"
    cfg.write_text(DETECT_CFG)
    weights.write_bytes(detect_weights())
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_cfg(str(cfg), str(weights))
    assert blocker.args == ["done"]
    return window.preview


def test_a_truncated_image_in_the_preview_is_a_message(qtbot, window, tmp_path, preview_ready):
    from tests.bad_inputs.corpus import jpeg

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpeg((64, 48))[:150])
    with qtbot.waitSignal(preview_ready.shown, timeout=STREAM_TIMEOUT_MS):
        preview_ready.open_image(str(broken))
    assert "cannot read this image" in preview_ready.error
    assert "cannot read this image" in preview_ready.status.text()
    assert "detection failed" in window.log_panel.toPlainText()
    assert window.isVisible() and no_modal_dialog()


def test_an_exception_in_the_preview_worker_reaches_the_tab_and_the_log(
        qtbot, window, tmp_path, monkeypatch, preview_ready):
    from darknet_inspector.gui import preview as preview_module
    from tests.bad_inputs.corpus import jpeg

    def failing_detect(request):
        yield "running the network"
        raise IndexError("injected fault in the detector")

    monkeypatch.setattr(preview_module, "detect", failing_detect)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((64, 48)))
    with qtbot.waitSignal(preview_ready.shown, timeout=STREAM_TIMEOUT_MS):
        preview_ready.open_image(str(photo))
    assert "injected fault in the detector" in preview_ready.status.text()
    log = window.log_panel.toPlainText()
    assert "IndexError" in log and "Traceback" in log
    assert window.isVisible() and no_modal_dialog()


def test_cancelling_a_conversion_before_it_writes_leaves_the_existing_file(
        qtbot, window, tmp_path, monkeypatch):
    from darknet_inspector.core.jobs.convert import convert_model
    from darknet_inspector.gui import convert_dialog

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_cfg(str(cfg), str(weights))
    at_write = threading.Event()
    cancelled = threading.Event()

    def held_before_writing(network, weights, options):
        for step in convert_model(network, weights, options):
            if step.step.startswith("writing"):  # Cancel pressed just before the write
                at_write.set()
                cancelled.wait(10)
            yield step

    monkeypatch.setattr(convert_dialog, "convert_model", held_before_writing)
    answer_questions(monkeypatch, "Yes")  # the user chose to replace it, then cancelled
    target = tmp_path / "out.pt"
    target.write_bytes(b"the user's earlier conversion")
    dialog = window.open_convert_dialog()
    dialog.output.setText(str(target))
    dialog.start()
    qtbot.waitUntil(at_write.is_set, timeout=STREAM_TIMEOUT_MS)
    dialog.cancel()
    cancelled.set()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=STREAM_TIMEOUT_MS)
    qtbot.wait(50)
    assert "cancelled" in dialog.status.text().lower()
    assert target.read_bytes() == b"the user's earlier conversion"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
    dialog.close()


def test_the_app_never_opens_its_inputs_for_writing(qtbot, window, tmp_path):
    """Open, stream, convert and export a tensor: the cfg and weights are only read, and
    every file written lies where the user pointed."""
    from tests.bad_inputs.audit import recording

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    out = tmp_path / "out"
    out.mkdir()
    inputs = {os.path.realpath(cfg), os.path.realpath(weights)}
    with recording() as opened:
        with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
            window.open_cfg(str(cfg), str(weights))
        dialog = window.open_convert_dialog()
        dialog.output.setText(str(out / "model.pt"))
        dialog.start()
        qtbot.waitUntil(lambda: (out / "model.pt").exists() and not dialog.runner.running,
                        timeout=STREAM_TIMEOUT_MS)
        window.export_tensor(0, "weights", str(out / "tensor.npy"))
        qtbot.waitUntil(lambda: (out / "tensor.npy").exists(), timeout=STREAM_TIMEOUT_MS)
    dialog.close()
    assert not [o for o in opened if o.path in inputs and o.writes]
    written = {os.path.dirname(o.path) for o in opened if o.writes and o.path.startswith(
        str(tmp_path.resolve()))}
    assert written == {str(out.resolve())}


def test_comparing_with_a_broken_weights_file_is_a_message(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_cfg(str(cfg), str(weights))
    other = tmp_path / "other.weights"
    other.write_bytes(b"PK\x03\x04" + bytes(40))
    window.diff_tab.compare_with(str(other))
    qtbot.waitUntil(lambda: not window.diff_tab.running, timeout=STREAM_TIMEOUT_MS)
    qtbot.wait(50)
    assert "zip file" in window.diff_tab.summary.text()
    assert "weights comparison failed" in window.log_panel.toPlainText()
    assert window.isVisible() and no_modal_dialog()


def test_an_exception_in_the_verify_worker_reaches_the_tab_and_the_log(
        qtbot, window, tmp_path, monkeypatch):
    from darknet_inspector.core.jobs.verify import MODEL, VerifyProgress
    from darknet_inspector.gui import verify_view

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_cfg(str(cfg), str(weights))

    def failing_verify(request):
        yield VerifyProgress(MODEL, "loading", 0.0)
        raise KeyError("injected fault in verify")

    monkeypatch.setattr(verify_view, "verify", failing_verify)
    window.verify_tab.start()
    qtbot.waitUntil(lambda: "verification failed" in window.log_panel.toPlainText(),
                    timeout=STREAM_TIMEOUT_MS)
    assert "KeyError" in window.log_panel.toPlainText()
    assert window.isVisible() and no_modal_dialog()
