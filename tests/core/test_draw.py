"""Drawing detections with Pillow: a new image, clipped boxes, one colour per class."""

from __future__ import annotations

import numpy as np
from PIL import Image

from darknet_inspector.core.detect import Detection
from darknet_inspector.core.draw import class_colour, draw_detections, label_text


def grey(width: int = 120, height: int = 90) -> Image.Image:
    return Image.new("RGB", (width, height), (128, 128, 128))


def test_drawing_returns_a_new_image_and_leaves_the_input_alone():
    image = grey()
    drawn = draw_detections(image, [Detection(0, "cat", 0.9, (20, 30, 80, 70))])
    assert drawn is not image and drawn.size == image.size and drawn.mode == "RGB"
    assert np.all(np.asarray(image) == 128)
    assert not np.all(np.asarray(drawn) == 128)


def test_box_outline_has_the_class_colour():
    drawn = np.asarray(draw_detections(grey(), [Detection(3, "car", 0.5, (20, 40, 100, 80))]))
    assert tuple(drawn[60, 20]) == class_colour(3)  # left edge, below the label
    assert tuple(drawn[60, 60]) == (128, 128, 128)  # inside stays untouched


def test_colours_are_stable_per_class_and_differ_between_neighbours():
    assert class_colour(7) == class_colour(7)
    colours = {class_colour(k) for k in range(20)}
    assert len(colours) == 20


def test_label_has_the_name_and_a_percentage():
    assert label_text(Detection(1, "bicycle", 0.876, (0, 0, 1, 1))) == "bicycle 88%"


def test_boxes_outside_the_image_are_clipped_not_refused():
    found = [Detection(0, "x", 0.4, (-50, -20, 500, 400)), Detection(1, "y", 0.3, (5, 5, 5, 5))]
    drawn = np.asarray(draw_detections(grey(60, 40), found))
    assert tuple(drawn[20, 0]) == class_colour(0)  # left border drawn on the image edge


def test_nothing_to_draw_gives_an_unchanged_copy():
    image = Image.new("L", (10, 8), 50)
    drawn = draw_detections(image, [])
    assert drawn.mode == "RGB" and np.all(np.asarray(drawn) == 50)
