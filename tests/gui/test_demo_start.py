"""With no arguments the app opens the bundled demo: the tree fills, the weights stream
in, and the preview has the sample image with every shape boxed and named."""

from __future__ import annotations

import pytest
from PIL import Image

from darknet_inspector.core.demo import demo_available, demo_files, read_ground_truth
from darknet_inspector.core.detect import read_names
from tests.gui.conftest import STREAM_TIMEOUT_MS

pytestmark = pytest.mark.skipif(not demo_available(), reason="the bundled demo is missing")


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_no_arguments_opens_the_demo(monkeypatch):
    from darknet_inspector.gui import app, main_window

    opened = []

    class FakeWindow:
        def show(self):
            pass

        def open_demo(self):
            opened.append("demo")

        def open_cfg(self, cfg, weights):
            opened.append(cfg)

    class FakeApp:
        def exec(self):
            return 0

    monkeypatch.setattr(main_window, "MainWindow", FakeWindow)
    monkeypatch.setattr(app, "make_application", FakeApp)
    assert app.run_app(None, None) == 0
    assert opened == ["demo"]


def test_demo_streams_in_and_the_preview_boxes_every_shape(qtbot, window):
    files = demo_files()
    with qtbot.waitSignal(window.preview.shown, timeout=STREAM_TIMEOUT_MS * 3):
        with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS) as streamed:
            assert window.open_demo()
    assert streamed.args[0] == "done"
    assert window.layers.tree.model().rowCount() == len(window.doc.network.layers)
    preview = window.preview
    assert preview.error is None
    width, height = Image.open(files.image).size
    truth = read_ground_truth(files.truth, width, height, read_names(files.names))
    found = preview.detections
    assert len(found) == len(truth)
    for shape in truth:
        assert any(d.name == shape.name and iou(d.box, shape.box) >= 0.5 for d in found), shape
    assert preview.table.rowCount() == len(truth)
