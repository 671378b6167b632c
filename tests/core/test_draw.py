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


def test_labels_of_boxes_sharing_a_corner_do_not_cover_each_other():
    from darknet_inspector.core.draw import place_labels

    boxes = [(40, 40, 100, 90), (42, 41, 90, 80), (40, 40, 110, 95)]
    spots = place_labels(boxes, [(50, 14)] * 3, 200, 150)
    for i, a in enumerate(spots):
        for b in spots[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), spots
    assert spots[0] == (40, 26, 90, 40)  # the most confident keeps the spot above its box


def test_overlapping_detections_both_labels_are_visible():
    """dog.jpg's "cat 55%" used to hide under "dog 65%": two boxes with the same corner."""
    dog = Detection(0, "dog", 0.65, (20.0, 40.0, 100.0, 90.0))
    cat = Detection(1, "cat", 0.55, (21.0, 41.0, 80.0, 85.0))
    out = np.asarray(draw_detections(grey(200, 150), [dog, cat])).astype(int)
    rows_with = {name: set() for name in ("dog", "cat")}
    for name, d in (("dog", dog), ("cat", cat)):
        colour = np.array(class_colour(d.class_id))
        hit = np.all(np.abs(out - colour) < 3, axis=2)
        rows_with[name] = {int(y) for y in np.nonzero(hit.sum(axis=1) > 20)[0]}
    # each label is a filled band of its class colour, many rows high (a box outline
    # gives only its top and bottom rows)
    assert len(rows_with["dog"]) >= 8 and len(rows_with["cat"]) >= 8, rows_with
