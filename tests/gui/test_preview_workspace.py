"""The preview as a workspace: zoom and pan, row <-> box, save, per-class thresholds; a bad
image or a names file of the wrong length says so in the tab (issue 14.6, 14.7, 14.9)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF

from darknet_inspector.core.demo import demo_available, demo_files
from darknet_inspector.core.detect import read_names
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

DETECT_TIMEOUT_MS = 60_000
pytestmark = pytest.mark.skipif(not demo_available(), reason="the bundled demo is missing")


@pytest.fixture
def preview(qtbot, window):
    with qtbot.waitSignal(window.preview.shown, timeout=DETECT_TIMEOUT_MS):
        with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
            assert window.open_demo()
    window.tabs.setCurrentWidget(window.preview)
    assert len(window.preview.detections) >= 2
    return window.preview


def test_a_bad_image_shows_its_error_whole_and_run_comes_back(qtbot, preview, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(bad))
    qtbot.wait(300)  # no retry loop may start after the failure
    assert not preview.running
    assert preview.run_button.isEnabled()
    assert preview.error and preview.error in preview.status.text()
    assert "loading" not in preview.status.text()
    assert preview.table.rowCount() == 0


def test_a_names_file_of_the_wrong_length_warns_in_the_tab(qtbot, preview, tmp_path):
    names = tmp_path / "three.names"
    names.write_text("a\nb\nc\n")
    preview.set_names(str(names))
    assert preview.names_warning.isVisible()
    assert "3 names" in preview.names_warning.text()
    assert "4 classes" in preview.names_warning.text()
    preview.set_names(str(demo_files().names))
    assert not preview.names_warning.isVisible()


def test_zoom_pan_and_fit(qtbot, preview):
    view = preview.view
    fitted = view.zoom
    view.zoom_by(2.0)
    assert view.zoom == pytest.approx(2 * fitted) and not view.fitted
    view.fit()
    assert view.zoom == pytest.approx(fitted) and view.fitted


def test_a_row_highlights_its_box_and_a_click_on_a_box_selects_its_row(qtbot, preview):
    view = preview.view
    preview.table.selectRow(1)
    assert view.highlighted == 1 and view.marker.isVisible()
    x1, y1, x2, y2 = preview.detections[0].box
    smallest_here = min(
        (i for i, d in enumerate(preview.detections)
         if d.box[0] <= (x1 + x2) / 2 <= d.box[2] and d.box[1] <= (y1 + y2) / 2 <= d.box[3]),
        key=lambda i: (preview.detections[i].box[2] - preview.detections[i].box[0])
        * (preview.detections[i].box[3] - preview.detections[i].box[1]))
    view.click_at(QPointF((x1 + x2) / 2, (y1 + y2) / 2))
    assert preview.table.currentRow() == smallest_here
    assert view.highlighted == smallest_here


def test_save_annotated_image_writes_what_is_shown(qtbot, preview, tmp_path):
    assert preview.save_button.isEnabled()
    target = tmp_path / "annotated.png"
    assert preview.save_annotated(str(target))
    saved = np.asarray(Image.open(target).convert("RGB"))
    assert (saved == preview.outcome.drawn.rgb).all()


def test_a_class_threshold_hides_only_that_class(qtbot, preview):
    names = read_names(demo_files().names)
    first = preview.detections[0]
    others = [d for d in preview.detections if d.class_id != first.class_id]
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.class_thresholds.setText(f"{names[first.class_id]}=0.999")
        preview.class_thresholds.editingFinished.emit()
    assert [d.class_id for d in preview.detections] == [d.class_id for d in others]


def test_the_names_file_is_remembered_per_model(qtbot, window, preview, tmp_path):
    (tmp_path / "names").mkdir()
    chosen = tmp_path / "names" / "demo-copy.names"
    chosen.write_text(demo_files().names.read_text())
    preview.set_names(str(chosen))
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    assert preview.names_path is None
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_demo()
    assert preview.names_path == str(chosen)
