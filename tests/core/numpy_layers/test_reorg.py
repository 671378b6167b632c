"""core.numpy_layers.reorg against the torch ReorgModule (`reorg_cpu`'s exact memory
moves, [reorg] and [reorg3d], forward and reverse), as YOLOv2 uses it."""

from __future__ import annotations

import pytest

from tests.core.numpy_layers.parity import matches_torch

CONV = "[convolutional]\nfilters=16\nsize=3\npad=1\nactivation=leaky\n\n"


@pytest.mark.parametrize("kind", ["reorg", "reorg3d"])
@pytest.mark.parametrize("reverse", [0, 1])
def test_reorg_equals_torch(tmp_path, kind, reverse):
    matches_torch(CONV + f"[{kind}]\nstride=2\nreverse={reverse}\n\n"
                  "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n", tmp_path)


def test_yolov2_passthrough_equals_torch(tmp_path):
    """reorg then route with a deeper layer, as yolov2.cfg does."""
    matches_torch(CONV + "[maxpool]\nsize=2\nstride=2\n\n[convolutional]\nfilters=4\nsize=3\n"
                  "pad=1\nactivation=leaky\n\n[route]\nlayers=0\n\n[reorg]\nstride=2\n\n"
                  "[route]\nlayers=-1,-3\n\n[convolutional]\nfilters=3\nsize=1\n"
                  "activation=linear\n", tmp_path)
