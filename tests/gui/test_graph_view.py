"""The graph tab: a node per layer, edges for every source, ledger colours, and
selection kept in step with the layer tree."""

from __future__ import annotations

from PySide6.QtCore import Qt

from darknet_inspector.core.demo import demo_files
from darknet_inspector.core.diagnosis import Finding
from darknet_inspector.gui import palette
from darknet_inspector.gui.graph_view import DIVERGENT_PEN, NODE_PEN, STATUS_FILL, LayerNode
from tests.conftest import zoo_path
from tests.gui.conftest import open_and_stream
from tests.gui.helpers import conv_cfg, write_model


def test_a_node_per_layer_and_an_edge_per_source(window):
    files = demo_files()
    window.open_cfg(str(files.cfg))
    graph = window.graph
    assert len(graph.nodes) == 38
    nodes = [i for i in graph.scene().items() if isinstance(i, LayerNode)]
    edges = [i for i in graph.scene().items() if not isinstance(i, LayerNode)
             and i.parentItem() is None]
    network = window.doc.network
    assert len(nodes) == 38
    assert len(edges) == sum(1 for layer in network.layers for s in layer.inputs if s >= 0)
    assert graph.nodes[8].childItems()[0].text() == "8  route"


def test_nodes_are_coloured_by_the_ledger(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(4))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # ends inside a middle layer
    open_and_stream(qtbot, window, cfg, weights)
    colours = [window.graph.status_colour(i) for i in range(4)]
    assert colours[0] == STATUS_FILL["ok"]
    assert palette.ERROR_STRONG in colours  # the layer the file ends in
    assert colours[3] == palette.ERROR_LIGHT  # missing


def test_clicking_a_node_selects_the_layer_in_the_tree_and_back(qtbot, window):
    window.open_cfg(str(demo_files().cfg))
    graph = window.graph
    window.tabs.setCurrentWidget(graph)
    graph.select_layer(12)
    point = graph.mapFromScene(graph.nodes[12].sceneBoundingRect().center())
    qtbot.mouseClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert window.layers.tree.currentIndex().data() == "12"
    assert window.tabs.currentWidget() is graph  # stays on the graph
    window.layers.select(20)
    assert graph.selected == 20


def test_a_large_network_builds_its_graph_quickly(window):
    import time

    start = time.perf_counter()
    window.open_cfg(str(zoo_path("cfg", "yolov4-p6.cfg")))
    assert len(window.graph.nodes) == len(window.doc.layers) > 300
    assert time.perf_counter() - start < 10  # cfg, tree and graph together, generous


def test_the_first_divergent_layer_is_coloured_apart(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(4))
    open_and_stream(qtbot, window, cfg, weights)
    graph = window.graph
    assert palette.DIVERGENT not in [graph.status_colour(i) for i in range(4)]
    window.doc.set_findings([Finding("classes", 2, None, "filters do not fit classes",
                                     None, False)])
    assert graph.status_colour(2) == palette.DIVERGENT
    assert graph.nodes[2].pen() == DIVERGENT_PEN
    assert [graph.status_colour(i) for i in (0, 1, 3)] == [STATUS_FILL["ok"]] * 3
    graph.select_layer(2)
    graph.select_layer(1)  # moving the selection on keeps the divergent outline
    assert graph.nodes[2].pen() == DIVERGENT_PEN
    assert graph.nodes[1].pen() != NODE_PEN


def test_a_hidden_graph_builds_its_nodes_when_shown_keeping_the_selection(window):
    """Opening a cfg does not build the hidden Graph tab's nodes (yolov4's 162 cost ~70 ms
    of the UI thread at the app's start, issue 15); showing the tab builds them, with the
    layer selected meanwhile highlighted."""
    window.open_cfg(str(demo_files().cfg))
    graph = window.graph
    assert not graph.isVisible() and graph._unbuilt
    assert [i for i in graph.scene().items() if isinstance(i, LayerNode)] == []
    window.select_layer(8)
    window.tabs.setCurrentWidget(graph)
    assert not graph._unbuilt and len(graph._nodes) == 38
    assert graph.selected == 8 and graph._nodes[8].pen() != NODE_PEN
