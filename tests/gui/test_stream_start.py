"""What a weights stream's start costs the UI thread (issue 15): nothing re-laid out,
no tree cell written that does not change, the last weights freed elsewhere, and the
filter proxy quiet while no filter is typed."""

from __future__ import annotations

import threading
import weakref

from darknet_inspector.gui.banner import Verdict
from tests.gui.conftest import STREAM_TIMEOUT_MS, open_and_stream
from tests.gui.helpers import conv_cfg, write_model

LONG = "A verdict long enough to wrap onto a second line in the banner. " * 4


def test_the_banner_grows_but_never_shrinks_while_one_model_is_open(window):
    banner = window.banner
    banner.show_verdict(Verdict("info", "short"))
    short = banner.minimumHeight()
    banner.show_verdict(Verdict("info", LONG))
    tall = banner.minimumHeight()
    assert tall > short
    banner.show_verdict(Verdict("info", "short again"))  # no relayout of the window
    assert banner.minimumHeight() == tall
    banner.reset_height()  # another model
    assert banner.minimumHeight() == short


def test_a_first_streams_start_writes_no_tree_cell(window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    window.open_cfg(str(cfg))
    written: list = []
    window.layers.model.dataChanged.connect(lambda *args: written.append(args))
    window.doc.begin_stream(str(weights))
    assert written == []  # every row already shows "not read yet"


def test_the_last_weights_are_freed_off_the_ui_thread(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    open_and_stream(qtbot, window, cfg, weights)

    class Marker:
        pass

    marker = Marker()
    freed_on: list[str] = []
    weakref.finalize(marker, lambda: freed_on.append(threading.current_thread().name))
    window.doc.state.records[99] = marker  # rides along with the records read
    del marker
    with qtbot.waitSignal(window.stream_finished, timeout=STREAM_TIMEOUT_MS):
        window.open_weights(str(weights))
    qtbot.waitUntil(lambda: freed_on != [], timeout=5000)
    assert freed_on == ["release-weights"]


def test_the_filter_proxy_refilters_on_changes_only_while_a_filter_is_typed(window):
    panel = window.layers
    assert not panel.proxy.dynamicSortFilter()
    panel.filter.setText("conv")
    assert panel.proxy.dynamicSortFilter() and panel.tree.model() is panel.proxy
    panel.filter.clear()
    assert not panel.proxy.dynamicSortFilter()
