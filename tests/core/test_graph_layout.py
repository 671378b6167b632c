"""The graph view's layout: every data-flow edge (route, shortcut, sam, scale_channels)
points down, chains stay in one column, branches sit side by side, large nets are fast."""

from __future__ import annotations

import time

from darknet_inspector.core.graph_layout import graph_edges, layered_layout
from darknet_inspector.core.network import load_network
from tests.conftest import ROOT, zoo_path

DEMO_CFG = ROOT / "resources" / "demo" / "demo.cfg"


def test_edges_are_every_layers_sources_route_and_shortcut_included():
    network = load_network(DEMO_CFG)
    edges = set(graph_edges(network))
    assert {(5, 6), (4, 6)} <= edges  # [shortcut] from=-2: the previous layer and layer 4
    assert {(2, 8), (7, 8)} <= edges  # [route] layers=-6,-1
    assert (23, 34) in edges  # the second head's route back to the backbone
    assert all(source < target for source, target in edges)


def test_sam_and_scale_channels_sources_are_edges():
    network = load_network(zoo_path("cfg", "efficientnet_b0.cfg"))
    scale = [layer for layer in network.layers if layer.type == "scale_channels"]
    assert scale
    edges = set(graph_edges(network))
    for layer in scale:
        assert {(s, layer.index) for s in layer.inputs} <= edges and len(layer.inputs) == 2


def test_every_edge_points_down_and_a_chain_is_one_column():
    network = load_network(DEMO_CFG)
    layout = layered_layout(network)
    assert all(layout.rows[s] < layout.rows[t] for s, t in layout.edges)
    assert set(layout.columns[:28]) == {0.0}  # the backbone is a chain with local skips
    assert layout.columns[30] != layout.columns[37]  # the two heads side by side
    assert layout.rows[31] == layout.rows[28]  # the route back starts a parallel branch


def test_yolov4_p6_lays_out_in_well_under_a_second():
    network = load_network(zoo_path("cfg", "yolov4-p6.cfg"))
    assert len(network.layers) > 300
    start = time.perf_counter()
    layout = layered_layout(network)
    assert time.perf_counter() - start < 0.5
    assert len(layout.rows) == len(network.layers)
