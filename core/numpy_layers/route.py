"""[route] as numpy: `forward_route_layer` (src/route_layer.c) on (H, W, C) arrays."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.route import RouteParams
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def route_step(groups: int, group_id: int) -> Step:
    """The group_id-th of `groups` channel slices of each input, concatenated."""
    def route(*xs: np.ndarray) -> np.ndarray:
        if groups > 1:
            xs = tuple(x[:, :, x.shape[2] // groups * group_id:
                         x.shape[2] // groups * (group_id + 1)] for x in xs)
        return xs[0] if len(xs) == 1 else np.concatenate(xs, axis=2)

    return route


@step_for("route")
def _route_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(RouteParams)
    return route_step(p.groups, p.group_id)
