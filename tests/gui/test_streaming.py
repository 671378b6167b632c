"""Streaming weights: one update per layer, the verdict banner, Problems, Cancel."""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import Qt

from darknet_inspector.core.jobs.stream import StreamUpdate, stream_weights
from darknet_inspector.gui import main_window, palette
from darknet_inspector.gui.layer_model import COL_STATUS
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

HEADER = 20


def conv_layer_bytes(c_in: int, filters: int = 8) -> tuple[int, int]:
    """(bytes before the weights tensor, total bytes) of a BN conv 3x3 layer:
    biases, scales, mean, variance (filters floats each), then filters*c_in*3*3."""
    return 4 * 4 * filters, 4 * (4 * filters + filters * c_in * 9)


def test_stream_sends_one_update_per_layer_and_ends_ok(qtbot, window, tmp_path):
    cfg, weights, network, tensors = write_model(tmp_path, conv_cfg(4))
    updates = []
    window.doc.layer_updated.connect(updates.append)
    state = open_and_stream(qtbot, window, cfg, weights)
    assert state == "done"
    assert updates == [0, 1, 2, 3]
    assert window.doc.ledger.status == "ok"
    assert window.banner.level == "ok"
    assert "Weights match" in window.banner.text()
    model = window.layers.model
    assert [model.index(r, COL_STATUS).data() for r in range(4)] == ["ok"] * 4
    assert not window.strip.running


def test_tensor_view_shows_the_values_that_were_written(qtbot, window, tmp_path):
    cfg, weights, _, tensors = write_model(tmp_path, conv_cfg(2))
    open_and_stream(qtbot, window, cfg, weights)
    window.select_layer(1, "weights")
    written = tensors[(1, "weights")]
    view = window.tensor_view
    assert float(view.values["min"].text()) == float(f"{written.min():.5g}")
    assert float(view.values["max"].text()) == float(f"{written.max():.5g}")
    assert view.values["values"].text() == f"{written.size:,}"
    assert not view.filters.isHidden()  # a conv weight tensor gets its per-filter norms


def test_truncated_file_names_the_layer_in_the_banner_and_problems(qtbot, window, tmp_path):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(5))
    # layer 0 reads 3 input channels, the others 8; cut halfway into layer 3's weights
    sizes = [conv_layer_bytes(3)] + [conv_layer_bytes(8)] * 4
    start_of_3 = HEADER + sum(total for _, total in sizes[:3])
    cut = start_of_3 + sizes[3][0] + (sizes[3][1] - sizes[3][0]) // 2
    with open(weights, "r+b") as handle:
        handle.truncate(cut)
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    text = window.banner.text()
    assert window.banner.level == "error"
    assert "layer 3" in text and "early" in text and "weights tensor" in text
    problems = window.problems.model.problems
    assert any(p.severity == "error" and p.layer == 3 for p in problems)
    model = window.layers.model
    background = [model.index(r, 0).data(Qt.ItemDataRole.BackgroundRole) for r in range(5)]
    assert background[:3] == [None] * 3
    assert background[3] == palette.ERROR_STRONG and background[4] == palette.ERROR_LIGHT
    statuses = [model.index(r, COL_STATUS).data() for r in range(5)]
    assert statuses == ["ok", "ok", "ok", "partial", "missing"]
    current = window.layers.tree.currentIndex()
    assert window.layers.to_source(current).row() == 3  # the failing layer is selected


def test_clicking_a_problem_selects_its_layer(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(4))
    with open(weights, "r+b") as handle:
        handle.truncate(os.path.getsize(weights) - 100)
    open_and_stream(qtbot, window, cfg, weights)
    window.select_layer(0)
    table = window.problems.table
    row = next(i for i, p in enumerate(window.problems.model.problems) if p.layer == 3)
    rect = table.visualRect(window.problems.model.index(row, 3))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.layers.to_source(window.layers.tree.currentIndex()).row() == 3
    assert "Layer 3" in window.cfg_view.title.text()


def test_leftover_bytes_are_reported(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with open(weights, "ab") as handle:
        handle.write(b"\0" * 64)
    open_and_stream(qtbot, window, cfg, weights)
    assert window.banner.level == "warning"  # Darknet ignores them: the model still runs
    assert "64 bytes left over" in window.banner.text()


def test_classes_filters_mismatch_shows_the_fix(window, tmp_path):
    text = ("[net]\nwidth=64\nheight=64\nchannels=3\n\n"
            "[convolutional]\nfilters=18\nsize=1\nstride=1\npad=1\nactivation=linear\n\n"
            "[yolo]\nmask=0,1,2\nanchors=10,13, 16,30, 33,23\nclasses=80\nnum=3\n")
    cfg = tmp_path / "heads.cfg"
    cfg.write_text(text)
    window.open_cfg(str(cfg))
    # (80 classes + 5) * 3 masks = 255 filters, on the conv's filters= line (line 7)
    fix = "set filters=255 on line 7"
    assert window.banner.level == "error"
    assert fix in window.banner.text()
    problems = window.problems.model.problems
    assert any(fix in p.message and p.layer == 1 for p in problems)


def test_empty_weights_file_is_a_message_not_a_crash(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    weights.write_bytes(b"")
    assert open_and_stream(qtbot, window, cfg, weights) == "failed"
    assert window.banner.level == "error"
    assert "empty" in window.banner.text()
    assert "empty" in window.log_panel.toPlainText()


def test_cancel_mid_stream_leaves_a_consistent_state(qtbot, window, tmp_path, monkeypatch):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(40))
    cancelled = threading.Event()

    def slow_stream(network, path, **options):
        """The real stream, held after its first layer until the UI has pressed Cancel."""
        for item in stream_weights(network, path, **options):
            yield item
            if isinstance(item, StreamUpdate):
                cancelled.wait(10)

    monkeypatch.setattr(main_window, "stream_weights", slow_stream)
    applied = []

    def cancel_after_first(index: int) -> None:
        applied.append(index)
        if len(applied) == 1:
            window.cancel_stream()
            cancelled.set()

    window.doc.layer_updated.connect(cancel_after_first)
    assert open_and_stream(qtbot, window, cfg, weights) == "cancelled"
    window.doc.layer_updated.disconnect(cancel_after_first)
    read = sorted(window.doc.records)
    assert read == applied == list(range(len(read)))
    assert 1 <= len(read) < 40
    model = window.layers.model
    statuses = [model.index(r, COL_STATUS).data() for r in range(40)]
    assert statuses == ["ok"] * len(read) + ["not read"] * (40 - len(read))
    assert window.banner.level == "warning" and "cancelled" in window.banner.text()
    assert window.doc.ledger is None
    assert not window.strip.running
    assert not window.convert_action.isEnabled()
    monkeypatch.undo()
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as blocker:
        window.open_weights(str(weights))  # the same file can be read again, to the end
    assert blocker.args[0] == "done" and len(window.doc.records) == 40


def test_stats_flag_nan_values_and_bad_variances(qtbot, window, tmp_path):
    cfg, weights, network, tensors = write_model(tmp_path, conv_cfg(1))
    data = bytearray(weights.read_bytes())
    # layer 0: biases at 20, scales 52, rolling_mean 84, rolling_variance 116 (8 floats each)
    data[116:120] = np.float32(-1.0).tobytes()
    data[152:156] = np.float32(np.nan).tobytes()  # first weight
    weights.write_bytes(bytes(data))
    open_and_stream(qtbot, window, cfg, weights)
    window.select_layer(0, "rolling_variance")
    assert "negative batch-norm variance" in window.tensor_view.flags.text()
    window.select_layer(0, "weights")
    assert window.tensor_view.values["NaN"].text() == "1"
    assert window.banner.level == "warning"
    assert "\u26a0" in window.layers.model.index(0, COL_STATUS).data()
