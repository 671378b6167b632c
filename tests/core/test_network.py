"""Network building: shapes, and the diagnostics a user sees for a broken cfg."""

from __future__ import annotations

import pytest

from darknet_inspector.core.errors import CfgError
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.network import NET_KEYS, load_network
from tests.conftest import ZOO
from tests.helpers import net_from_text

NET = "[net]\nwidth=64\nheight=64\nchannels=3\n"


def tiny_yolo(filters: int = 18, classes: int = 1, mask: str = "0,1,2", num: int = 3) -> str:
    """net (lines 1-4), conv 0 (lines 6-12), conv 1 (14-18, filters on 15), yolo (20-)."""
    return NET + f"""
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters={filters}
size=1
stride=1
activation=linear

[yolo]
mask={mask}
anchors=10,14, 23,27, 37,58, 81,82
classes={classes}
num={num}
"""


def errors(network):
    return [d for d in network.diagnostics if d.severity == "error"]


def warnings(network):
    return [d for d in network.diagnostics if d.severity == "warning"]


def test_tiny_yolo_builds_with_darknet_shapes_and_no_diagnostics():
    network = net_from_text(tiny_yolo())
    assert network.diagnostics == []
    assert [layer.output_shape for layer in network.layers] == [
        (8, 32, 32), (18, 32, 32), (18, 32, 32)]
    assert [layer.line for layer in network.layers] == [6, 14, 20]
    assert network.heads == [2]


@pytest.mark.parametrize("classes, filters, expected", [(80, 18, 255), (1, 255, 18), (2, 18, 21)])
def test_yolo_filters_mismatch_names_the_conv_line_and_the_fix(classes, filters, expected):
    network = net_from_text(tiny_yolo(filters=filters, classes=classes))
    (error,) = errors(network)
    assert error.layer == 2 and error.line == 20
    assert f"set filters={expected} on line 15 (layer 1, [convolutional])" in error.message
    assert f"gets {filters}" in error.message


def test_yolo_mask_past_num_anchors_is_a_warning_on_the_mask_line():
    network = net_from_text(tiny_yolo(mask="0,1,3"))  # anchors= lists a 4th pair
    assert errors(network) == []  # Darknet accepts it (cspx-p7-mish.cfg in the zoo does this)
    (warning,) = [w for w in warnings(network) if "mask" in w.message]
    assert warning.layer == 2 and warning.line == 21
    assert "mask entries 3" in warning.message and "num=3" in warning.message


def test_yolo_mask_past_every_listed_anchor_is_an_error_on_the_mask_line():
    network = net_from_text(tiny_yolo(mask="0,1,5"))  # anchors= lists 4 pairs
    (error,) = [e for e in errors(network) if "mask" in e.message]
    assert error.layer == 2 and error.line == 21
    assert "mask entries 5 point past the num=3 anchors and past the 4 anchor pairs" in (
        error.message)


def test_yolo_after_a_route_says_which_layer_must_change():
    text = NET + "[convolutional]\nfilters=8\nsize=1\n[route]\nlayers=-1\n[yolo]\nclasses=1\n" \
        "num=3\nmask=0,1,2\nanchors=1,1,2,2,3,3\n"
    (error,) = errors(net_from_text(text))
    assert "make layer 1 [route] output 18 channels" in error.message


@pytest.mark.parametrize("value, words", [
    ("-5", "points to layer -3, which is before the first layer"),
    ("2", "points to layer 2, which is this layer itself"),
    ("7", "points to layer 7, which is a later layer"),
])
def test_route_outside_the_network_or_forward_is_an_error_naming_the_line(value, words):
    text = NET + f"[conv]\nfilters=4\n[conv]\nfilters=4\n[route]\nlayers=-1,{value}\n[conv]\n"
    network = net_from_text(text)
    (error,) = errors(network)
    assert error.layer == 2 and error.line == 10 and words in error.message
    assert "must name one of layers 0..1" in error.message
    assert network.layers[2].output_shape is None
    assert network.layers[3].output_shape is None  # no cascade of errors after it


def test_shortcut_from_a_later_layer_is_an_error():
    text = NET + "[conv]\nfilters=4\n[shortcut]\nfrom=3\nactivation=linear\n"
    (error,) = errors(net_from_text(text))
    assert error.layer == 1 and error.line == 8 and "a later layer" in error.message


def test_route_of_layers_with_different_sizes_is_an_error():
    text = NET + "[conv]\nfilters=4\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=-1,-2\n"
    (error,) = errors(net_from_text(text))
    assert error.layer == 2 and error.line == 11
    assert "32x32" in error.message and "64x64" in error.message


def test_kernel_bigger_than_its_input_is_an_error_on_the_size_line():
    text = "[net]\nwidth=4\nheight=4\nchannels=3\n[conv]\nfilters=4\nsize=7\n"
    (error,) = errors(net_from_text(text))
    assert error.line == 7 and "does not fit the 4x4 input" in error.message


def test_groups_that_do_not_divide_channels_is_an_error():
    text = NET + "[conv]\nfilters=4\ngroups=2\n"
    (error,) = errors(net_from_text(text))
    assert error.line == 7 and "groups=2 does not divide the 3 input channels" in error.message


@pytest.mark.parametrize("name, words", [
    ("convolutinal", "unknown section [convolutinal] on line 7: Darknet does not know it; did "
                     "you mean [convolutional]?"),
    ("Yolo", "did you mean [yolo]?"),
    ("frobnicate", "check its spelling"),
    ("net", "may only be the first section"),
])
def test_unknown_section_is_an_error_naming_its_line(name, words):
    text = NET + f"[conv]\nfilters=4\n[{name}]\nsize=1\n[conv]\nfilters=2\n"
    network = net_from_text(text)
    (error,) = errors(network)
    assert error.layer == 1 and error.line == 7 and words in error.message
    assert network.layers[2].output_shape is None and not network.complete


def test_first_section_must_be_net():
    with pytest.raises(CfgError, match="first section must be") as info:
        net_from_text("\n[conv]\nfilters=4\n")
    assert info.value.line == 2


def test_net_without_input_size_is_a_cfg_error():
    with pytest.raises(CfgError, match="no input size"):
        net_from_text("[net]\nbatch=1\n[conv]\n")


def test_unknown_layer_option_is_a_warning_naming_key_and_line():
    text = NET + "[conv]\nfilters=4\nsize=3\nfliters=8\n"
    (warning,) = warnings(net_from_text(text))
    assert warning.layer == 0 and warning.line == 8
    assert "unknown option fliters in [conv] on line 8" in warning.message


def test_unknown_net_option_is_a_warning_and_known_ones_are_not():
    text = ("[net]\nwidth=32\nheight=32\nchannels=3\nbatch=64\nsubdivisions=8\npolicy=steps\n"
            "steps=100\nscales=.1\nmosaic=1\nletter_box=1\nwidht=416\n[conv]\nfilters=4\n")
    (warning,) = warnings(net_from_text(text))
    assert warning.layer is None and warning.line == 12
    assert "unknown option widht in [net] on line 12" in warning.message


def test_every_net_key_darknet_reads_is_known():
    text = "[net]\n" + "".join(f"{key}=1\n" for key in sorted(NET_KEYS)) + "[conv]\nfilters=1\n"
    network = net_from_text(text)
    assert warnings(network) == [] and errors(network) == []


def test_width_and_height_overrides_reshape_every_layer():
    network = net_from_text(tiny_yolo(), width=128, height=96)
    assert network.input_shape == (3, 96, 128)
    assert network.layers[0].output_shape == (8, 48, 64)
    assert network.layers[2].output_shape == (18, 48, 64)


ZOO_CFGS = sorted(p.name for p in (ZOO / "cfg").glob("*.cfg")) if (ZOO / "cfg").is_dir() else []

# Options the zoo cfgs really carry that Darknet itself never reads (it warns too, or, for
# [net], silently ignores them). Anything else reported as unknown is a bug in a layer type
# (a key its parse_* function reads missing from its known keys).
REAL_UNKNOWN_OPTIONS = {
    ("Gaussian_yolov3_BDD.cfg", "max_epochs"),
    ("writing.cfg", "seen"),
    ("yolov4-sam-mish-csp-reorg-bfm.cfg", "beta1"),
}


def test_zoo_has_87_cfgs(zoo):
    assert len(ZOO_CFGS) == 87


@pytest.mark.parametrize("name", ZOO_CFGS)
def test_zoo_cfg_builds_and_reports_only_real_unknown_options(zoo, name):
    network = load_network(zoo / "cfg" / name)
    assert network.errors == [] and network.complete
    unknown = {(name, d.message.split()[2]) for d in network.diagnostics
               if d.message.startswith("unknown option")}
    assert unknown == {real for real in REAL_UNKNOWN_OPTIONS if real[0] == name}
    for d in network.diagnostics:
        assert d.line is not None, d




def test_comment_after_a_text_value_warns_that_darknet_keeps_it_in_the_value():
    text = NET + "[conv]\nfilters=4 # four\nsize=3 ; three\nactivation=leaky   # was mish\n"
    network = net_from_text(text)
    (warning,) = warnings(network)
    assert warning.line == 8 and warning.layer == 0
    assert "Darknet reads the whole 'leaky#wasmish' as the value" in warning.message
    assert network.layers[0].params_as(ConvolutionalParams).activation == "leaky"
    assert network.layers[0].output_shape == (4, 62, 62)  # numbers: atoi stops at the comment
