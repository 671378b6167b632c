"""The app's weights stream measures its tensors in a child process (issue 15): the UI
process's GIL stays free for the UI thread while a big file streams."""

from __future__ import annotations

from darknet_inspector.core.jobs import stream
from darknet_inspector.core.stats_process import StatsChild
from tests.gui.conftest import open_and_stream
from tests.gui.helpers import conv_cfg, write_model


def test_the_app_measures_the_stream_in_a_child_process(qtbot, window, tmp_path, monkeypatch):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(4))
    measured_here: list = []
    real = stream.tensor_stats
    monkeypatch.setattr(stream, "tensor_stats",
                        lambda *args: measured_here.append(args) or real(*args))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert measured_here == []
    assert len(window.doc.stats) == sum(len(layer.weights) for layer in network.layers)


def test_without_a_child_process_the_stream_measures_in_the_app(qtbot, window, tmp_path,
                                                                monkeypatch):
    cfg, weights, network, _ = write_model(tmp_path, conv_cfg(4))
    monkeypatch.setattr(StatsChild, "take", classmethod(lambda cls: None))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert len(window.doc.stats) == sum(len(layer.weights) for layer in network.layers)
