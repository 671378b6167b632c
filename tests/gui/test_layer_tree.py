"""The layer tree: one row per layer with Darknet's shapes; filter; cfg section view."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, Qt

from darknet_inspector.gui.layer_model import (
    COL_BFLOPS,
    COL_INPUT,
    COL_OFFSET,
    COL_OPTIONS,
    COL_OUTPUT,
    COL_STATUS,
    COL_TYPE,
    layer_matches,
)
from tests.conftest import zoo_path

# yolov3-tiny at 416x416, shapes as Darknet prints them when it loads the cfg
YOLOV3_TINY = {
    0: ("convolutional", "3×416×416", "16×416×416"),
    1: ("maxpool", "16×416×416", "16×208×208"),
    11: ("maxpool", "512×13×13", "512×13×13"),
    15: ("convolutional", "512×13×13", "255×13×13"),
    16: ("yolo", "255×13×13", "255×13×13"),
    17: ("route", "L13 256×13×13", "256×13×13"),  # the routed layer, not layer 16
    19: ("upsample", "128×13×13", "128×26×26"),
    20: ("route", "L19 128×26×26 + L8 256×26×26", "384×26×26"),
    22: ("convolutional", "256×26×26", "255×26×26"),
    23: ("yolo", "255×26×26", "255×26×26"),
}


def _cell(model, row: int, column: int) -> str:
    return model.index(row, column).data(Qt.ItemDataRole.DisplayRole)


def test_zoo_cfg_tree_has_one_row_per_layer_with_darknet_shapes(window):
    cfg = zoo_path("cfg", "yolov3-tiny.cfg")
    sections = re.findall(r"^\[(\w+)\]", cfg.read_text(), re.M)
    assert window.open_cfg(str(cfg))
    model = window.layers.model
    assert model.rowCount() == len(sections) - 1 == 24
    for row, (kind, shape_in, shape_out) in YOLOV3_TINY.items():
        assert _cell(model, row, COL_TYPE) == kind
        assert _cell(model, row, COL_INPUT) == shape_in
        assert _cell(model, row, COL_OUTPUT) == shape_out


ROUTED_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=16
size=3
stride=1
pad=1
activation=leaky

[route]
layers=-1,-2

[convolutional]
filters=8
size=1
stride=1
pad=1
activation=leaky

[shortcut]
from=-4
activation=linear

[convolutional]
filters=4
size=1
stride=1
pad=1
activation=leaky
"""


def test_route_and_shortcut_rows_show_each_source_with_its_shape(window, tmp_path):
    cfg = tmp_path / "routed.cfg"
    cfg.write_text(ROUTED_CFG)
    window.open_cfg(str(cfg))
    model = window.layers.model
    assert _cell(model, 2, COL_INPUT) == "L1 16×32×32 + L0 8×32×32"
    assert _cell(model, 4, COL_INPUT) == "L3 8×32×32 + L0 8×32×32"
    assert _cell(model, 3, COL_INPUT) == "24×32×32"  # a plain layer: the previous output


def _shown(window) -> list[str]:
    model = window.layers.tree.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_filter_matches_shapes_in_either_order_against_inputs_and_outputs(window, tmp_path):
    cfg = tmp_path / "routed.cfg"
    cfg.write_text(ROUTED_CFG)
    window.open_cfg(str(cfg))
    window.layers.filter.setText("32x32x24")  # as Darknet prints it: W x H x C
    assert _shown(window) == ["2", "3"]  # the route's output, the next layer's input
    window.layers.filter.setText("24\u00d732\u00d732")  # as the tree shows it
    assert _shown(window) == ["2", "3"]
    window.layers.filter.setText("16x32x32")
    assert _shown(window) == ["1", "2"]  # layer 2 routes layer 1's output
    window.layers.filter.setText("3x3")
    assert _shown(window) == ["0", "1"]  # still the kernel size in the options


def test_a_filter_that_hides_every_layer_says_so(window, tmp_path):
    cfg = tmp_path / "routed.cfg"
    cfg.write_text(ROUTED_CFG)
    window.open_cfg(str(cfg))
    panel = window.layers
    assert panel.no_match.isHidden()
    panel.filter.setText("40x40")
    assert _shown(window) == []
    assert not panel.no_match.isHidden()
    assert panel.no_match.text() == "no layer matches \u201c40x40\u201d"
    panel.filter.setText("conv")
    assert panel.no_match.isHidden()


def test_conv_row_has_a_child_per_tensor_in_file_order(window):
    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    model = window.layers.model
    first = model.layer_index(0)
    names = [model.index(r, COL_TYPE, first).data() for r in range(model.rowCount(first))]
    assert names == ["biases", "scales", "rolling_mean", "rolling_variance", "weights"]
    assert model.rowCount(model.layer_index(1)) == 0  # maxpool stores nothing


def test_filter_by_type_index_and_range(window):
    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    def shown() -> list[str]:
        model = window.layers.tree.model()
        return [model.index(r, 0).data() for r in range(model.rowCount())]

    window.layers.filter.setText("yolo")
    assert shown() == ["16", "23"]
    window.layers.filter.setText("#19")
    assert shown() == ["19"]
    window.layers.filter.setText("10-12 type:max")
    assert shown() == ["11"]
    window.layers.filter.clear()
    assert len(shown()) == 24


def test_selecting_a_filtered_out_layer_clears_the_filter(window):
    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    window.layers.filter.setText("yolo")
    window.select_layer(3)
    assert window.layers.filter.text() == ""
    assert window.layers.to_source(window.layers.tree.currentIndex()).row() == 3


def test_filter_words_must_all_match():
    assert layer_matches("conv leaky", 3, "convolutional", "16 3x3/1 leaky bn", "ok")
    assert not layer_matches("conv linear", 3, "convolutional", "16 3x3/1 leaky bn", "ok")
    assert layer_matches("status:miss", 3, "convolutional", "", "missing")
    assert not layer_matches("4-9", 3, "convolutional", "", "ok")
    assert layer_matches("13x13x255 conv", 15, "convolutional", "", "ok",
                         [(512, 13, 13), (255, 13, 13)])
    assert not layer_matches("13x13x255", 14, "convolutional", "", "ok", [(512, 13, 13)])
    assert not layer_matches("40x40", 3, "convolutional", "", "ok", [(8, 140, 40)])


def test_selecting_a_layer_shows_its_cfg_section_with_line_numbers(window):
    cfg = zoo_path("cfg", "yolov3-tiny.cfg")
    lines = cfg.read_text().splitlines()
    yolo_lines = [n for n, line in enumerate(lines, 1) if line.strip() == "[yolo]"]
    window.open_cfg(str(cfg))
    window.select_layer(16)
    shown = window.cfg_view.text.toPlainText().splitlines()
    assert shown[0].split() == [str(yolo_lines[0]), "[yolo]"]
    assert shown[1].split(maxsplit=1) == [str(yolo_lines[0] + 1), lines[yolo_lines[0]]]
    assert f"lines {yolo_lines[0]}" in window.cfg_view.title.text()


def test_unreadable_cfg_is_a_banner_not_a_crash(window, tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_bytes(b"\x00\x01binary")
    assert not window.open_cfg(str(bad))
    assert window.banner.level == "error"
    assert "not a text cfg" in window.banner.text()
    assert window.layers.model.rowCount() == 0


def test_cfg_with_a_sibling_weights_file_offers_it(window, tmp_path):
    from tests.gui.helpers import conv_cfg, write_model

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    window.open_cfg(str(cfg))
    assert weights.name in window.banner.text()
    assert window.doc.weights_path is None  # offered, not opened


def test_tree_and_status_line_show_darknets_bflops(window):
    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    model = window.layers.model
    assert _cell(model, 0, COL_BFLOPS) == "0.150"  # Darknet: conv 16 3x3/1 ... 0.150 BF
    assert _cell(model, 16, COL_BFLOPS) == ""  # [yolo]: Darknet counts none
    assert window.model_summary.text().endswith("5.571 BFLOPS")  # Darknet's Total BFLOPS


def test_tensor_rows_are_made_when_their_layer_is_expanded(qtbot, window):
    """A layer's tensor rows are made when first needed (yolov4's 541 were 2/3 of the
    tree's build before the first window, issue 15); the expand arrow shows before."""
    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    tree, model = window.layers.tree, window.layers.model
    row = model.index(2, 0)
    assert model.hasChildren(row) and model.rowCount(row) == 0  # not made yet
    assert not model.hasChildren(model.index(1, 0))  # a maxpool stores nothing
    tree.expand(row)  # the view lays the rows out (and fetches them) on its next turn
    qtbot.waitUntil(lambda: model.rowCount(row) > 0, timeout=2000)
    names = [model.index(r, COL_TYPE, row).data() for r in range(model.rowCount(row))]
    assert names == ["biases", "scales", "rolling_mean", "rolling_variance", "weights"]


def test_a_stream_rewrites_only_the_cells_that_changed(qtbot, window, tmp_path):
    """The tree is Qt's item model: a stream's flush sets the cells whose text or colour
    changed (the Offset and Weights columns of the layers read), not whole rows."""
    from tests.gui.conftest import open_and_stream
    from tests.gui.helpers import conv_cfg, write_model

    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    window.open_cfg(str(cfg))
    model = window.layers.model
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles: changed.append((a.row(), a.column())))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    columns = {column for _, column in changed}
    assert columns <= {COL_OFFSET, COL_STATUS} and (0, COL_STATUS) in changed
    assert _cell(model, 0, COL_STATUS) == "ok"


def test_a_rows_tooltip_shows_over_any_of_its_cells(window, monkeypatch):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip

    window.open_cfg(str(zoo_path("cfg", "yolov3-tiny.cfg")))
    tree = window.layers.tree
    shown: list[str] = []
    monkeypatch.setattr(QToolTip, "showText", lambda pos, text, *args: shown.append(text))
    rect = tree.visualRect(tree.model().index(0, COL_BFLOPS))
    event = QHelpEvent(QEvent.Type.ToolTip, rect.center(), tree.viewport().mapToGlobal(
        rect.center()) + QPoint(0, 0))
    assert tree.viewportEvent(event)
    assert shown and shown[0].startswith("[convolutional] on cfg line")


def test_a_wide_window_gives_the_input_column_room_for_route_sources(qtbot):
    """Wide: Input grows (up to INPUT_WIDE_WIDTH) before Options takes the rest; narrow:
    it keeps its default; resized by hand: it stays as the user left it."""
    from PySide6.QtGui import QStandardItemModel

    from darknet_inspector.gui.layer_panel import (
        COLUMN_WIDTHS,
        INPUT_WIDE_WIDTH,
        OPTIONS_MIN_WIDTH,
        LayerTreeView,
    )

    view = LayerTreeView()
    qtbot.addWidget(view)
    view.setModel(QStandardItemModel(0, 11))
    header = view.header()
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    assert header.sectionSize(COL_INPUT) == COLUMN_WIDTHS[COL_INPUT]
    view.resize(1900, 400)
    qtbot.waitUntil(lambda: header.sectionSize(COL_INPUT) == INPUT_WIDE_WIDTH)
    assert header.sectionSize(COL_OPTIONS) >= OPTIONS_MIN_WIDTH
    assert sum(header.sectionSize(c) for c in range(11)) == view.viewport().width()
    header.resizeSection(COL_INPUT, 150)  # by hand
    view.resize(1000, 400)
    qtbot.waitUntil(lambda: view.viewport().width() < 1000)
    assert header.sectionSize(COL_INPUT) == 150
