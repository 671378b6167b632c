"""Nothing computed from a model, image, names file or thresholds that changed stays on
screen as if current: preview, Verify and Weights diff (issue 14.1), also during a run."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.demo import demo_available, demo_files
from darknet_inspector.core.weights import write_weights
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

DETECT_TIMEOUT_MS = 60_000
needs_demo = pytest.mark.skipif(not demo_available(), reason="the bundled demo is missing")


def shown_pixels(preview) -> np.ndarray:
    image = preview.view.pixmap_item.pixmap().toImage()
    return np.array([image.pixel(x, y) for x in range(0, image.width(), 7)
                     for y in range(0, image.height(), 7)])


def plain_pixels(path) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    return np.array([image.pixel(x, y) for x in range(0, image.width(), 7)
                     for y in range(0, image.height(), 7)])


@pytest.fixture
def demo_shown(qtbot, window):
    with qtbot.waitSignal(window.preview.shown, timeout=DETECT_TIMEOUT_MS):
        with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
            assert window.open_demo()
    assert window.preview.detections and window.preview.table.rowCount()
    return window.preview


@needs_demo
def test_opening_the_broken_demo_clears_the_boxes_and_rows(qtbot, window, demo_shown):
    preview = demo_shown
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_broken_demo()
    assert not preview.run_button.isEnabled()
    assert preview.table.rowCount() == 0 and preview.detections == []
    assert (shown_pixels(preview) == plain_pixels(demo_files().image)).all()


@needs_demo
def test_a_new_image_shows_no_rows_of_the_old_one_while_it_runs(qtbot, window, demo_shown,
                                                               tmp_path):
    from PIL import Image

    other = tmp_path / "flipped.png"
    Image.open(demo_files().image).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    preview = demo_shown
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(other))
        assert preview.running  # the new run has started ...
        assert preview.table.rowCount() == 0  # ... and nothing of dog.jpg is left
        assert (shown_pixels(preview) == plain_pixels(other)).all()
    assert preview.table.rowCount() == len(preview.detections) > 0


@needs_demo
def test_a_result_for_a_replaced_model_is_not_shown(qtbot, window, demo_shown, tmp_path):
    preview = demo_shown
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    preview.run()
    assert preview.running
    open_and_stream(qtbot, window, cfg, weights)  # no [yolo] head: cannot preview
    qtbot.waitUntil(lambda: not preview.running, timeout=DETECT_TIMEOUT_MS)
    assert preview.table.rowCount() == 0 and preview.detections == []


@needs_demo
def test_moving_a_threshold_marks_the_rows_out_of_date_until_refiltered(qtbot, demo_shown):
    preview = demo_shown
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.conf.setValue(90)
        assert not preview.table.isEnabled()  # greyed: computed for the old threshold
        assert "Updating" in preview.status.text()
    assert preview.table.isEnabled()
    assert all(d.confidence > 0.9 for d in preview.detections)


def test_verify_forgets_the_old_model_and_its_late_report(qtbot, window, tmp_path):
    pytest.importorskip("cv2")
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2), "a")
    other_cfg, other_weights, _, _ = write_model(tmp_path, conv_cfg(3), "b")
    open_and_stream(qtbot, window, cfg, weights)
    tab = window.verify_tab
    with qtbot.waitSignal(tab.report_ready, timeout=DETECT_TIMEOUT_MS):
        window.run_verify()
    summary = tab.status.text()
    assert tab.table.rowCount() > 0 and "Input" in summary
    window.run_verify()  # a run in flight when the model changes ...
    open_and_stream(qtbot, window, other_cfg, other_weights)
    qtbot.waitUntil(lambda: not tab.running, timeout=DETECT_TIMEOUT_MS)
    assert tab.table.rowCount() == 0 and tab.report is None  # ... is not shown
    assert tab.status.text() != summary and "Input" not in tab.status.text()


def test_weights_diff_forgets_the_old_model(qtbot, window, tmp_path):
    cfg, a, network, tensors = write_model(tmp_path, conv_cfg(2), "a")
    changed = dict(tensors)
    changed[(0, "scales")] = tensors[(0, "scales")] * np.float32(1.5)
    b = tmp_path / "b.weights"
    write_weights(b, network, changed)
    other_cfg, other_weights, _, _ = write_model(tmp_path, conv_cfg(3), "c")
    open_and_stream(qtbot, window, cfg, a)
    tab = window.diff_tab
    tab.compare_with(str(b))
    qtbot.waitUntil(lambda: tab.result is not None, timeout=DETECT_TIMEOUT_MS)
    summary = tab.summary.text()
    assert "changed" in summary
    open_and_stream(qtbot, window, other_cfg, other_weights)
    assert tab.table.rowCount() == 0 and not tab.changed_layers
    assert tab.summary.text() != summary and "changed" not in tab.summary.text()
