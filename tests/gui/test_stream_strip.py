"""The stream strip's live histogram: painted with QPainter (no pyqtgraph at the app's
start, issue 15), the tallest bin touching the top, bins left to right."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from darknet_inspector.core.tensor_stats import tensor_stats
from darknet_inspector.gui.stream_strip import SPARK_SIZE, LiveHistogram, step_outline


def test_the_outline_steps_through_each_bin_with_the_tallest_at_the_top():
    points = step_outline([1, 4, 2], 30.0, 11.0)
    assert points[0] == (0.0, 11.0) and points[-1] == (30.0, 11.0)
    tops = points[1:-1]
    assert [x for x, _ in tops] == [0.0, 10.0, 10.0, 20.0, 20.0, 30.0]
    assert [y for _, y in tops] == pytest.approx([8.5, 8.5, 1.0, 1.0, 6.0, 6.0])


def test_no_counts_draw_nothing():
    assert step_outline([], 30, 10) == [] and step_outline([0, 0], 30, 10) == []


def test_the_live_histogram_paints_the_tensor_just_read(qtbot):
    histogram = LiveHistogram()
    qtbot.addWidget(histogram)
    values = np.concatenate([np.zeros(1000, np.float32), np.ones(10, np.float32)])
    histogram.show_stats(tensor_stats("biases", values))
    image = histogram.grab().toImage()
    assert (image.width(), image.height()) == SPARK_SIZE
    left = image.pixelColor(2, SPARK_SIZE[1] - 3)  # the tall bin of zeros, at the left
    assert left.blue() > left.red() and left.alpha() > 0 and left != QColor("white")
    histogram.show_stats(None)
    assert histogram._empty
