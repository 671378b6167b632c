"""Detection preview on the real Yolo-Fastest 1.1, against Darknet's own detections."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import zoo_path
from tests.gui.conftest import open_and_stream

DETECT_TIMEOUT_MS = 60_000


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def darknet_dog_box() -> tuple[float, float, float, float]:
    """The dog (class 16) Darknet itself reports on dog.jpg, in image pixels."""
    ref = json.loads(zoo_path("darknet-reference", "yolo-fastest-1.1", "dog",
                              "detections.json").read_text())
    dog = next(d for d in ref["detections"] if d["class_id"] == 16)
    w, h = ref["image_w"], ref["image_h"]
    return ((dog["x"] - dog["w"] / 2) * w, (dog["y"] - dog["h"] / 2) * h,
            (dog["x"] + dog["w"] / 2) * w, (dog["y"] + dog["h"] / 2) * h)


@pytest.fixture
def preview(qtbot, window, yolo_fastest):
    cfg, weights = yolo_fastest
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert window.preview is not None, "core.detect is not importable"
    window.preview.set_names(str(zoo_path("data", "coco.names")))
    return window.preview


def test_preview_on_yolo_fastest_draws_the_dog(qtbot, window, preview):
    image = zoo_path("data", "dog.jpg")
    preview.input_mode.setCurrentIndex(0)  # as the cfg says: stretch, like detector test
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(image))
    assert preview.error is None
    dogs = [d for d in preview.detections if d.name == "dog"]
    assert dogs, [d.name for d in preview.detections]
    assert iou(dogs[0].box, darknet_dog_box()) > 0.9
    drawn = preview.outcome.drawn.rgb
    original = np.asarray(Image.open(image).convert("RGB"))
    assert drawn.shape == original.shape
    x1, y1, x2, y2 = (round(v) for v in dogs[0].box)
    edge = np.abs(drawn[y1:y2, x1].astype(int) - original[y1:y2, x1].astype(int)).mean()
    assert edge > 20  # the box's left edge is painted over the photo
    assert "dog" in [preview.table.item(r, 0).text() for r in range(preview.table.rowCount())]
    assert "ms" in preview.status.text()


def test_threshold_slider_refilters_without_running_the_network(qtbot, window, preview):
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(zoo_path("data", "dog.jpg")))
    inference = preview.outcome.inference
    before = len(preview.detections)
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.conf.setValue(80)
    assert preview.outcome.inference is inference  # same network run
    assert 0 < len(preview.detections) < before
    assert all(d.confidence > 0.8 for d in preview.detections)
    assert window.settings.number("preview/conf", 0) == pytest.approx(0.8)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_selecting_cuda_without_cuda_shows_the_reason(qtbot, window, preview):
    assert not preview.select_device("cuda")
    assert preview.device.currentData() == "cpu"
    assert not preview.device_note.isHidden()
    assert "CUDA" in preview.device_note.text()
    assert preview.run_button.isEnabled()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_preview_runs_on_cuda(qtbot, window, preview):
    assert preview.select_device("cuda:0")
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(zoo_path("data", "dog.jpg")))
    assert preview.error is None and preview.outcome.inference.device == "cuda:0"
    dogs = [d for d in preview.detections if d.name == "dog"]
    assert dogs and iou(dogs[0].box, darknet_dog_box()) > 0.9


def test_unreadable_image_is_a_message(qtbot, window, preview, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(str(bad))
    assert preview.error and "cannot read this image" in preview.error
