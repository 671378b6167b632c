"""The diagnosis in the app: the banner states the top cause and its fix, Save fixed cfg
writes a new cfg and reopens it with the same weights, Problems lists every cause with
its evidence and each flagged tensor under a legend, the tree marks the divergent layer."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from darknet_inspector.core.cfg import read_cfg
from darknet_inspector.core.demo import BROKEN_CLASSES, demo_available, demo_files, first_head
from darknet_inspector.core.network import build_network
from darknet_inspector.gui import palette
from darknet_inspector.gui.layer_model import COL_STATUS
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

needs_demo = pytest.mark.skipif(not demo_available(), reason="the bundled demo is missing")
BACKGROUND = 8  # Qt.ItemDataRole.BackgroundRole


def open_broken_demo(qtbot, window) -> None:
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        assert window.open_broken_demo()


def classes_only_pair(folder):
    """The demo cfg with its first head's classes raised (filters kept) and the demo's
    full weights: the classes fix is the only one, and it is verified."""
    files = demo_files()
    cfg = read_cfg(files.cfg)
    head = first_head(build_network(cfg))
    lines = cfg.lines()
    lines[head.section.line_of("classes") - 1] = f"classes={BROKEN_CLASSES}"
    path = folder / "classes.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path, files.weights, head


@needs_demo
def test_broken_demo_banner_states_the_top_cause_and_its_fix(qtbot, window):
    open_broken_demo(qtbot, window)
    text = window.banner.text()
    assert window.banner.level == "error"
    assert text.startswith("Layer 30, line 219: The conv feeding this head has filters=27")
    assert "Fix (not verified): set classes=4 on line 219." in text
    assert "Also in Problems: truncated at layer 18." in text
    assert window.banner._button.isVisible()
    assert window.banner._button.text() == "Save fixed cfg as\u2026"
    assert window.save_fixed_action.isEnabled()


@needs_demo
def test_problems_list_every_cause_with_its_evidence_and_fix(qtbot, window):
    open_broken_demo(qtbot, window)
    rows = [(p.severity, p.layer, p.message) for p in window.problems.model.problems]
    assert rows[0][:2] == ("cause 1", 30) and rows[0][2].startswith("classes (not verified)")
    assert ("evidence", 30, "filters=27 = 3 * (4 + 5)") in rows
    assert ("fix", 30, "set classes=4 on line 219") in rows
    cause_2 = next(i for i, row in enumerate(rows) if row[0] == "cause 2")
    assert rows[cause_2][1] == 18 and rows[cause_2][2].startswith("truncated")
    assert rows[cause_2 + 1][0] == "evidence" and "read healthy" in rows[cause_2 + 1][2]
    assert window.problems.model.index(0, 3).data().startswith("classes (not verified)")


def test_problems_list_flagged_tensors_under_a_legend_for_the_mark(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    data = bytearray(weights.read_bytes())
    data[116:120] = np.float32(-1.0).tobytes()  # layer 0's first rolling_variance
    weights.write_bytes(bytes(data))
    open_and_stream(qtbot, window, cfg, weights)
    assert "\u26a0" in window.layers.model.index(0, COL_STATUS).data()
    flags = [p for p in window.problems.model.problems if p.severity == "flag"]
    assert [(p.layer, p.message) for p in flags] == [
        (0, "\u26a0 0.rolling_variance: 1 negative batch-norm variance(s)")]
    legend = window.problems.legend.text()
    assert legend.startswith("\u26a0 a tensor raises a health flag")
    assert "negative or near-zero batch-norm variance" in legend and "\u2691" in legend
    assert not window.problems.legend.isHidden()


@needs_demo
def test_tree_marks_the_first_divergent_layer_apart_from_where_the_bytes_ran_out(
        qtbot, window):
    open_broken_demo(qtbot, window)
    model = window.layers.model
    assert model.index(30, 0).data() == "\u2691 30"
    assert model.index(30, 0).data(BACKGROUND) == palette.DIVERGENT
    assert "first divergent layer (classes)" in model.index(30, 0).data(3)  # tooltip
    assert model.index(18, 0).data() == "18"
    assert model.index(18, 0).data(BACKGROUND) == palette.ERROR_STRONG  # where bytes end
    assert palette.DIVERGENT not in (palette.ERROR_STRONG, palette.ERROR_LIGHT)
    assert window.layers.to_source(window.layers.tree.currentIndex()).row() == 30


@needs_demo
def test_save_fixed_cfg_writes_a_new_file_and_reopens_it_with_the_same_weights(
        qtbot, window, tmp_path, monkeypatch):
    cfg, weights, head = classes_only_pair(tmp_path)
    original = cfg.read_bytes()
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert window.banner.level == "error" and "Fix (verified)" in window.banner.text()
    target = tmp_path / "fixed.cfg"
    offered = []

    def choose(parent, title, start, filters):
        offered.append(start)
        return str(target), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", choose)
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.banner._button.click()
    assert offered == [str(tmp_path / "classes-fixed.cfg")]
    assert cfg.read_bytes() == original  # the original is never touched
    assert target.is_file() and f"classes={BROKEN_CLASSES}" not in target.read_text()
    assert window.doc.cfg_path == str(target) and window.doc.weights_path == str(weights)
    assert window.banner.level == "ok" and "Weights match" in window.banner.text()
    assert window.doc.errors() == [] and not window.save_fixed_action.isEnabled()
    assert window.doc.layer_status(head.index - 1) == "ok"


@needs_demo
def test_save_fixed_cfg_never_writes_over_the_original(qtbot, window, tmp_path):
    cfg, weights, _ = classes_only_pair(tmp_path)
    original = cfg.read_bytes()
    open_and_stream(qtbot, window, cfg, weights)
    assert not window.save_fixed_cfg(str(cfg))
    assert not window.save_fixed_cfg(str(tmp_path / "." / "classes.cfg"))
    assert cfg.read_bytes() == original and window.doc.cfg_path == str(cfg)
    assert "is the cfg being fixed" in window.log_panel.toPlainText()


@needs_demo
def test_save_fixed_cfg_from_the_file_menu_on_the_broken_demo(qtbot, window, tmp_path,
                                                               monkeypatch):
    open_broken_demo(qtbot, window)
    target = tmp_path / "demo-fixed.cfg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args: (str(target), "Darknet cfg (*.cfg)"))
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.save_fixed_action.trigger()
    assert "classes=4" in target.read_text()
    # the cfg now agrees with itself; what is left is the truncated file
    assert window.doc.top_finding().cause == "truncated"
    assert "early" in window.banner.text() and "layer 18" in window.banner.text()
