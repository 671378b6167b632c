"""The feature-maps tab: one run on the preview image, then any layer without re-running;
grid, heatmap and the per-channel strip."""

from __future__ import annotations

from darknet_inspector.core.demo import demo_files
from tests.gui.conftest import open_and_stream


def test_one_run_then_every_layer_is_shown_from_what_it_kept(qtbot, window):
    files = demo_files()
    open_and_stream(qtbot, window, files.cfg, files.weights)
    window.preview.open_image(str(files.image), run=False)
    tab = window.feature_maps
    tab.select_layer(4)
    tab.compute()
    qtbot.waitUntil(lambda: tab.maps is not None, timeout=60_000)
    assert len(tab.maps.layers) == 38
    assert tab.maps.layers[4].full is not None and tab.maps.layers[5].full is None
    assert not tab.picture.pixmap().isNull()
    first = tab.picture.pixmap().size()
    tab.select_layer(30)  # a head, from the thumbnails kept: no second run
    tab.mode.setCurrentText("Heatmap")
    assert tab.picture.pixmap().size() != first
    assert "dead of 27 channels" in tab.strip.plotItem.titleLabel.text
    assert window.layers.tree.currentIndex().data() == "30"  # the tree follows the slider


def test_compute_without_an_image_says_what_is_missing(window):
    window.open_cfg(str(demo_files().cfg))
    window.feature_maps.compute()
    assert "first" in window.feature_maps.status.text()
    assert window.feature_maps.runner is None
