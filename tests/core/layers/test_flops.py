"""BFLOPS as Darknet counts them: each layer type's `l.bflops` against a hand computation
of the formula in its src/*_layer.c, the float32 total of src/parser.c, and the totals
Darknet prints for the zoo's best-known cfgs."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.layers.flops import (
    c_int32_product,
    darknet_pool_bflops,
    darknet_total_bflops,
)
from darknet_inspector.core.network import layer_bflops, load_network
from tests.conftest import zoo_path
from tests.helpers import net_from_text

NET = "[net]\nwidth=16\nheight=16\nchannels=3\n\n"


def f32(value: float) -> float:
    return float(np.float32(value))


def bflops_of(sections: str) -> list[float]:
    network = net_from_text(NET + sections)
    assert not network.errors, network.errors
    return [layer_bflops(layer) for layer in network.layers]


CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"


def test_conv_counts_two_flops_per_weight_per_output_cell():
    # nweights = 3*8*3*3 = 216, 16x16 outputs: 2*216*256
    assert bflops_of(CONV) == [f32(2 * 216 * 256 / 1e9)]


def test_conv_with_groups_counts_its_input_channels_per_group():
    grouped = "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\ngroups=4\nactivation=leaky\n"
    # second conv: (8/4)*8*3*3 = 144 weights, 8x8 outputs
    assert bflops_of(CONV + grouped)[1] == f32(2 * 144 * 64 / 1e9)


def test_conv_ignores_dilation():
    dilated = CONV + "dilation=2\n"
    assert bflops_of(dilated) == bflops_of(CONV)


def test_xnor_conv_counts_a_32nd_and_no_groups():
    xnor = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nxnor=1\nactivation=leaky\n"
    # second conv takes 8 channels: nweights = 8*8*9 = 576
    assert bflops_of(CONV + xnor)[1] == f32(f32(2 * 576 * 256 / 1e9) / 32)


def test_antialiased_conv_counts_its_host_at_stride_one():
    blurred = "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nantialiasing=1\n"
    assert bflops_of(blurred) == [f32(2 * 216 * 256 / 1e9)]


def test_maxpool_counts_window_cells_per_output():
    pool = "[maxpool]\nsize=2\nstride=2\n"
    # 8 channels, 2x2 window, 8x8 outputs
    assert bflops_of(CONV + pool)[1] == f32(2 * 2 * 8 * 8 * 8 / 1e9)


def test_local_avgpool_counts_like_maxpool():
    pool = "[local_avgpool]\nsize=3\nstride=1\n"
    # padding size-1 keeps 16x16
    assert bflops_of(CONV + pool)[1] == f32(3 * 3 * 8 * 16 * 16 / 1e9)


def test_maxpool_depth_counts_over_the_input_size_and_channels():
    pool = "[maxpool]\nmaxpool_depth=1\nout_channels=2\nsize=2\nstride=2\n"
    assert bflops_of(CONV + pool)[1] == f32(2 * 2 * 8 * 16 * 16 / 1e9)


def test_pool_product_wraps_as_a_c_int():
    assert c_int32_product(65536, 65536) == 0
    assert c_int32_product(46341, 46341) == 46341 * 46341 - 2**32
    assert darknet_pool_bflops(2, 512, 1024, 1024) < 0  # 2**31: Darknet's total skips it


def test_shortcut_counts_outputs_per_source_and_doubles_with_weights():
    plain = "[shortcut]\nfrom=-2\nactivation=linear\n"
    weighted = "[shortcut]\nfrom=-2,-3\nweights_type=per_feature\nactivation=linear\n"
    found = bflops_of(CONV + CONV + CONV + plain + weighted)
    assert found[3] == f32(8 * 16 * 16 * 1 / 1e9)
    assert found[4] == f32(f32(8 * 16 * 16 * 2 / 1e9) * 2)


def test_crnn_sums_its_three_inner_convolutions():
    crnn = "[crnn]\nhidden=4\noutput=6\nsize=3\npad=1\nactivation=leaky\n"
    inner = [f32(2 * (3 * 4 * 9) * 256 / 1e9), f32(2 * (4 * 4 * 9) * 256 / 1e9),
             f32(2 * (4 * 6 * 9) * 256 / 1e9)]
    expected = np.float32(np.float32(np.float32(inner[0]) + np.float32(inner[1]))
                          + np.float32(inner[2]))
    assert bflops_of(crnn) == [float(expected)]


@pytest.mark.parametrize("options, output, weights_in, extra", [
    ("", 6, [3, 3, 3, 3, 6, 6, 6, 6], 9),
    ("peephole=1\n", 6, [3, 3, 3, 3, 6, 6, 6, 6, 6, 6, 6], 12),
    ("bottleneck=1\n", 3, [3, 3, 3, 3, 6], 9),  # bottleneck needs output= input channels
])
def test_conv_lstm_sums_its_inner_convolutions_and_the_gate_arithmetic(options, output,
                                                                        weights_in, extra):
    lstm = f"[conv_lstm]\noutput={output}\nsize=3\npad=1\n" + options
    total = np.float32(0)
    for channels in weights_in:
        total = np.float32(total + np.float32(2 * (channels * output * 9) * 256 / 1e9))
    expected = f32(float(total) + extra * (output * 16 * 16) / 1e9)
    assert bflops_of(lstm) == [expected]


def test_layers_darknet_does_not_count_are_zero():
    rest = ("[route]\nlayers=-1\n\n[upsample]\nstride=2\n\n[avgpool]\n\n"
            "[connected]\noutput=10\nactivation=linear\n")
    assert bflops_of(CONV + rest)[1:] == [0.0, 0.0, 0.0, 0.0]


def test_total_is_a_float32_sum_of_the_positive_layers():
    assert darknet_total_bflops([1.5, -2.0, 0.0, 0.25]) == 1.75
    assert darknet_total_bflops([16777216.0, 1.0]) == 16777216.0  # float32, not double


@pytest.mark.parametrize("name, size, total", [
    ("yolov3", 416, "65.879"),
    ("yolov4", 608, "128.459"),
    ("yolov4-tiny", 416, "6.910"),
])
def test_zoo_totals_equal_darknets_printed_total_bflops(name, size, total):
    network = load_network(zoo_path("cfg", f"{name}.cfg"), size, size)
    assert f"{network.bflops:.3f}" == total
