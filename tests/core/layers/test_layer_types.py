"""Every Darknet section type is registered, and every zoo cfg (all accepted by Darknet)
builds without an error."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cfg import read_cfg
from darknet_inspector.core.layers import registered_types
from darknet_inspector.core.network import load_network
from tests.conftest import ZOO

ZOO_CFGS = sorted(p.name for p in (ZOO / "cfg").glob("*.cfg")) if (ZOO / "cfg").is_dir() else []

DARKNET_TYPES = {
    "shortcut", "scale_channels", "sam", "crop", "cost", "detection", "region", "yolo",
    "Gaussian_yolo", "local", "convolutional", "activation", "crnn", "gru", "lstm",
    "conv_lstm", "history", "rnn", "connected", "maxpool", "local_avgpool", "reorg3d",
    "reorg", "avgpool", "dropout", "normalization", "batchnorm", "softmax", "contrastive",
    "route", "upsample", "empty", "implicit",
}


def test_every_type_of_string_to_layer_type_is_registered():
    assert set(registered_types()) == DARKNET_TYPES


def test_zoo_uses_only_registered_types(zoo):
    used = {section.type for name in ZOO_CFGS for section in read_cfg(zoo / "cfg" / name)}
    assert used - {"net"} <= set(registered_types())


@pytest.mark.parametrize("name", ZOO_CFGS)
def test_zoo_cfg_builds_without_errors(zoo, name):
    network = load_network(zoo / "cfg" / name)
    assert network.errors == []
    assert network.complete
