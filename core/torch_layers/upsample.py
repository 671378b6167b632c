"""[upsample] as torch: `forward_upsample_layer` (src/upsample_layer.c). The torch-free side
(options, shapes, weight layout) is core.layers.upsample."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.upsample import UpsampleParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class UpsampleModule(DarknetModule):
    keeps_layout = True

    def __init__(self, stride: int, scale: float):
        super().__init__()
        self.stride = stride
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 0:
            y = x.repeat_interleave(self.stride, dim=2).repeat_interleave(self.stride, dim=3)
        else:
            k = -self.stride
            y = F.avg_pool2d(x, k, k) * float(k * k)
        return y * self.scale if self.scale != 1.0 else y


@module_for("upsample")
def _upsample_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(UpsampleParams)
    return UpsampleModule(p.stride, p.scale)
