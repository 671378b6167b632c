"""Opening files: drops route by kind, the CLI order is forgiven, tensors export as .npy."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from darknet_inspector.gui.app import cfg_first
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model


def test_dropping_weights_and_cfg_in_any_order_opens_both(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(weights)), QUrl.fromLocalFile(str(cfg))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.dropEvent(event)
    assert window.doc.cfg_path == str(cfg) and window.doc.weights_path == str(weights)
    assert window.doc.ledger.status == "ok"


def test_files_of_unknown_kind_are_ignored_with_a_note(window, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("x")
    window.open_paths([str(other)])
    assert window.doc.network is None
    assert "ignored" in window.log_panel.toPlainText()


def test_command_line_weights_before_cfg_is_understood():
    assert cfg_first("m.weights", "m.cfg") == ("m.cfg", "m.weights")
    assert cfg_first("m.cfg", "m.weights") == ("m.cfg", "m.weights")
    assert cfg_first("m.cfg", None) == ("m.cfg", None)


def test_export_writes_the_tensor_as_npy(qtbot, window, tmp_path):
    cfg, weights, _, tensors = write_model(tmp_path, conv_cfg(2))
    open_and_stream(qtbot, window, cfg, weights)
    target = tmp_path / "w.npy"
    window.export_tensor(1, "weights", str(target))
    qtbot.waitUntil(target.exists, timeout=10_000)
    np.testing.assert_array_equal(np.load(target), tensors[(1, "weights")])


def test_opening_another_model_clears_the_old_models_status_message(window, tmp_path):
    first, _, _, _ = write_model(tmp_path, conv_cfg(2), "first")
    second, _, _, _ = write_model(tmp_path, conv_cfg(3), "second")
    window.open_cfg(str(first))
    window.log("could not read the weights: file ends in layer 1", "error")
    assert window.statusBar().currentMessage().startswith("could not read the weights")
    window.open_cfg(str(second))
    assert window.statusBar().currentMessage() == ""


def test_a_new_weights_run_clears_the_last_runs_status_message(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    window.open_cfg(str(cfg))
    window.log("reading cancelled after 1 layers", "warning")
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_weights(str(weights))
    assert window.statusBar().currentMessage() == ""
