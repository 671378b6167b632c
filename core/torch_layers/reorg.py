"""[reorg] and [reorg3d] as torch: `reorg_cpu` (src/blas.c) as one precomputed gather. The
torch-free side (options, shapes, weight layout) is core.layers.reorg."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer, Shape
from darknet_inspector.core.layers.reorg import ReorgParams, reorg_cpu_arguments, reorg_cpu_gather
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class ReorgModule(DarknetModule):
    """Moves every element to where `reorg_cpu` puts it (one precomputed gather)."""

    gather: Tensor  # a buffer (register_buffer)

    def __init__(self, gather: np.ndarray, out_shape: Shape):
        super().__init__()
        self.register_buffer("gather", torch.from_numpy(gather), persistent=False)
        self.out_shape = tuple(out_shape)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        return flat.index_select(1, self.gather).view(x.shape[0], *self.out_shape)


@module_for("reorg", "reorg3d")
def _reorg_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(ReorgParams)
    c, h, w = p.in_shape
    rw, rh, rc, forward = reorg_cpu_arguments(layer.type, c, h, w, layer.built_shape,
                                              p.reverse)
    gather = reorg_cpu_gather(rw, rh, rc, p.stride, forward)
    return ReorgModule(gather, layer.built_shape)
