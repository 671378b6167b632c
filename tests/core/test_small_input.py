"""The smallest input a network accepts with its weights: where convert's self-check
runs its forward passes."""

from __future__ import annotations

from darknet_inspector.core.network import load_network
from darknet_inspector.core.small_input import smallest_input
from tests.conftest import zoo_path
from tests.helpers import net_from_text

CONVS = """[net]
width={w}
height={h}
channels=3
[convolutional]
filters=4
size=3
stride=2
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
filters=4
size=1
activation=linear
"""


def test_yolov4_runs_at_one_cell_of_its_coarsest_head():
    assert smallest_input(load_network(zoo_path("cfg", "yolov4.cfg"))) == (32, 32)


def test_a_fully_convolutional_net_shrinks_to_one_cell_of_its_coarsest_map():
    assert smallest_input(net_from_text(CONVS.format(w=64, h=96))) == (4, 4)


def test_a_connected_layer_keeps_the_cfg_size_its_weights_were_made_for():
    text = CONVS.format(w=64, h=64) + "[connected]\noutput=5\nactivation=linear\n"
    assert smallest_input(net_from_text(text)) == (64, 64)


def test_a_flat_input_network_keeps_its_size():
    text = "[net]\ninputs=10\n[connected]\noutput=5\nactivation=linear\n"
    network = net_from_text(text)
    assert smallest_input(network) == (network.net.width, network.net.height)
