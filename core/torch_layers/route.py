"""[route] as torch: `forward_route_layer` (src/route_layer.c)."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.route import RouteParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class RouteModule(DarknetModule):
    keeps_layout = True

    def __init__(self, groups: int, group_id: int, channels: list[int], out_shape):
        super().__init__()
        self.groups = groups
        self.group_id = group_id
        self.channels = channels
        self.out_shape = out_shape

    def forward(self, *xs: Tensor) -> Tensor:
        parts = []
        for x, c in zip(xs, self.channels):
            if x.dim() == 2:
                x = x.view(x.shape[0], -1, 1, 1)
            if self.groups > 1:
                part = c // self.groups
                x = x[:, part * self.group_id: part * (self.group_id + 1)]
            parts.append(x)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


@module_for("route")
def _route_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(RouteParams)
    return RouteModule(p.groups, p.group_id, list(p.channels), layer.output_shape)
