"""Weights-diff tab: a second .weights for the open cfg; changed tensors listed, histogram,
and the changed layers highlighted in the layer tree."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QStyleOptionViewItem

from darknet_inspector.core.network import load_network
from darknet_inspector.core.weights import write_weights
from darknet_inspector.gui.diff_view import (
    CHANGED,
    COL_REL,
    COL_TENSOR,
    ChangedLayersDelegate,
    DiffTab,
)
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.layer_model import LayerTreeModel
from tests.gui.helpers import WINDOW_SIZES, conv_cfg, header_gap, write_model

TIMEOUT_MS = 30_000


@pytest.fixture
def tab(qtbot, settings):
    view = DiffTab(ModelDocument(), settings, lambda *args: None)
    qtbot.addWidget(view)
    yield view
    view.shutdown()


@pytest.fixture
def files(tmp_path):
    """A model (A) and a copy (B) with two tensors of layers 0 and 2 changed."""
    cfg, a, network, tensors = write_model(tmp_path, conv_cfg(3))
    changed = dict(tensors)
    changed[(0, "scales")] = tensors[(0, "scales")] * np.float32(1.25)
    changed[(2, "weights")] = tensors[(2, "weights")].copy()
    changed[(2, "weights")][0, 0, 0, :] += np.float32(0.5)
    b = tmp_path / "b.weights"
    write_weights(b, network, changed)
    return cfg, a, b


def compare(qtbot, tab, cfg, a, b) -> None:
    tab.doc.set_network(str(cfg), load_network(cfg))
    tab.doc.begin_stream(str(a))
    tab.model_ready(True)
    with qtbot.waitSignal(tab.changed, timeout=TIMEOUT_MS):
        tab.compare_with(str(b))


def test_lists_exactly_the_changed_tensors(qtbot, tab, files):
    compare(qtbot, tab, *files)
    listed = [(int(tab.table.item(r, 0).text()), tab.table.item(r, COL_TENSOR).text())
              for r in range(tab.table.rowCount())]
    assert listed == [(0, "scales"), (2, "weights")]
    assert tab.table.item(0, COL_REL).text() == "0.25"
    assert tab.changed_layers == {0, 2}
    assert "2 of 15 tensors changed, in 2 layers" in tab.summary.text()
    tab.only_changed.setChecked(False)
    assert tab.table.rowCount() == 15


def test_histogram_of_all_changes_then_of_the_selected_tensor(qtbot, tab, files):
    compare(qtbot, tab, *files)
    total = 8 + 3  # every scale of layer 0, one row of layer 2's first kernel
    assert sum(tab.histogram.counts) == total
    tab.table.setCurrentCell(1, 0)
    assert sum(tab.histogram.counts) == 3
    assert tab.histogram.edges[-1] == pytest.approx(0.5)


def test_changed_layers_are_highlighted_in_the_tree(qtbot, tab, files):
    compare(qtbot, tab, *files)
    model = LayerTreeModel(tab.doc)
    delegate = ChangedLayersDelegate(tab)

    def brush(index):
        option = QStyleOptionViewItem()
        delegate.initStyleOption(option, index)
        return option.backgroundBrush.color()

    assert brush(model.layer_index(0)) == CHANGED
    assert brush(model.layer_index(1)) != CHANGED
    assert brush(model.layer_index(2)) == CHANGED
    assert brush(model.tensor_index(2, "weights")) == CHANGED
    assert brush(model.tensor_index(2, "biases")) != CHANGED


def test_double_click_selects_the_tensor_and_new_cfg_clears(qtbot, tab, files):
    compare(qtbot, tab, *files)
    with qtbot.waitSignal(tab.tensor_activated) as blocker:
        tab.table.cellDoubleClicked.emit(1, 0)
    assert blocker.args == [2, "weights"]
    with qtbot.waitSignal(tab.changed):
        tab.doc.set_network(str(files[0]), load_network(files[0]))
    assert tab.table.rowCount() == 0 and not tab.changed_layers


def test_main_window_tree_paints_changed_layers(qtbot, window, files):
    from tests.gui.conftest import open_and_stream

    cfg, a, b = files
    assert open_and_stream(qtbot, window, cfg, a) == "done"
    assert window.diff_action.isEnabled()
    with qtbot.waitSignal(window.diff_tab.changed, timeout=TIMEOUT_MS):
        window.diff_tab.compare_with(str(b))
    delegate = window.layers.tree.itemDelegate()
    assert isinstance(delegate, ChangedLayersDelegate)
    option = QStyleOptionViewItem()
    delegate.initStyleOption(option, window.layers.tree.model().index(2, 0))
    assert option.backgroundBrush.color() == CHANGED
    window.diff_tab.tensor_activated.emit(2, "weights")
    assert window.tabs.currentIndex() == 0


def _luminance(colour) -> float:
    """WCAG relative luminance."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))


def _contrast(a, b) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_painted_changed_layers_stand_out_from_the_tree_background(qtbot, window, files):
    """The diff-painted rows are clearly coloured (issue 14.10: not a barely visible pale
    blue) and their black text stays readable."""
    from PySide6.QtGui import QColor, QPalette

    from tests.gui.conftest import open_and_stream

    cfg, a, b = files
    open_and_stream(qtbot, window, cfg, a)
    with qtbot.waitSignal(window.diff_tab.changed, timeout=TIMEOUT_MS):
        window.diff_tab.compare_with(str(b))
    tree = window.layers.tree
    option = QStyleOptionViewItem()
    tree.itemDelegate().initStyleOption(option, tree.model().index(2, 0))
    painted = option.backgroundBrush.color()
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase):
        assert _contrast(painted, tree.palette().color(role)) >= 2.0, painted.name()
    assert painted.hsvSaturationF() >= 0.45, painted.name()
    assert _contrast(painted, QColor("black")) >= 4.5


def test_the_columns_fill_the_table_width_at_both_window_sizes(qtbot, tab, files):
    compare(qtbot, tab, *files)
    tab.show()
    header = tab.table.horizontalHeader()
    for width, height in WINDOW_SIZES:
        tab.resize(width, height)
        for only_changed in (True, False, True):  # refilling used to shrink the columns
            tab.only_changed.setChecked(only_changed)
            qtbot.waitUntil(lambda wide=width - 100: tab.table.viewport().width() > wide)
            assert header_gap(tab.table) == 0, (width, only_changed)
            for column in range(header.count()):
                assert header.sectionSize(column) >= tab.table.sizeHintForColumn(column)


def test_the_tree_paints_through_the_diff_delegate_only_while_a_diff_found_changes(
        qtbot, window, files):
    """A Python delegate is a callback per painted cell: without changes to show, the
    tree keeps Qt's own (issue 15)."""
    from tests.gui.conftest import open_and_stream

    cfg, a, b = files
    assert open_and_stream(qtbot, window, cfg, a) == "done"
    assert not isinstance(window.layers.tree.itemDelegate(), ChangedLayersDelegate)
    with qtbot.waitSignal(window.diff_tab.changed, timeout=TIMEOUT_MS):
        window.diff_tab.compare_with(str(b))
    assert isinstance(window.layers.tree.itemDelegate(), ChangedLayersDelegate)
    with qtbot.waitSignal(window.diff_tab.changed, timeout=TIMEOUT_MS):
        window.open_cfg(str(cfg))  # a new model clears the diff
    assert not isinstance(window.layers.tree.itemDelegate(), ChangedLayersDelegate)
