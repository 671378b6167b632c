"""[maxpool], [local_avgpool], [avgpool] as torch: `forward_maxpool_layer`,
`forward_local_avgpool_layer` (src/maxpool_layer.c), `forward_avgpool_layer`
(src/avgpool_layer.c). The torch-free side (options, shapes, weight layout) is
core.layers.pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.pooling import PoolParams, darknet_pool_pads
from darknet_inspector.core.torch_layers.antialias import AntialiasBlur
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class WindowPool(DarknetModule):
    """Max or average over windows with Darknet's asymmetric padding; padded cells never
    win a max and are not counted in an average."""

    keeps_layout = True

    def __init__(self, g: PoolParams, average: bool):
        super().__init__()
        self.size = g.size
        self.stride = (g.stride_y, g.stride_x)
        self.pad_h = darknet_pool_pads(g.h, g.out_h, g.padding, g.size, g.stride_y)
        self.pad_w = darknet_pool_pads(g.w, g.out_w, g.padding, g.size, g.stride_x)
        self.average = average

    def forward(self, x: Tensor) -> Tensor:
        pads = (self.pad_w[0], self.pad_w[1], self.pad_h[0], self.pad_h[1])
        if not self.average:
            if any(pads):
                x = F.pad(x, pads, value=float("-inf"))
            return F.max_pool2d(x, self.size, self.stride)
        ones = torch.ones((1, 1) + x.shape[2:], dtype=x.dtype, device=x.device)
        if any(pads):
            x = F.pad(x, pads)
            ones = F.pad(ones, pads)
        total = F.avg_pool2d(x, self.size, self.stride)
        count = F.avg_pool2d(ones, self.size, self.stride)
        return total / count


class AntialiasedPool(DarknetModule):
    """The stride-1 maxpool, then Darknet's antialiasing blur at the layer's stride."""

    keeps_layout = True

    def __init__(self, g: PoolParams):
        super().__init__()
        self.pool = WindowPool(g, average=False)
        self.blur = AntialiasBlur(g.c, g.antialiasing, g.blur_stride_x, g.blur_stride_y)

    def forward(self, x: Tensor) -> Tensor:
        return self.blur(self.pool(x))


class MaxpoolDepth(DarknetModule):
    """`maxpool_depth=1`: output channel g is the max over input channels g, g+out_c, ..."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        groups = -(-c // self.out_channels)
        missing = groups * self.out_channels - c
        if missing:
            x = F.pad(x, (0, 0, 0, 0, 0, missing), value=float("-inf"))
        return x.view(b, groups, self.out_channels, h, w).amax(dim=1)


class GlobalAvgpool(DarknetModule):
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return x.view(x.shape[0], -1, 1, 1)
        return x.mean(dim=(2, 3), keepdim=True)


@module_for("maxpool")
def _maxpool_module(layer: Layer) -> DarknetModule:
    g = layer.params_as(PoolParams)
    if g.depth:
        return MaxpoolDepth(g.out_channels)
    if g.antialiasing:
        return AntialiasedPool(g)
    return WindowPool(g, average=False)


@module_for("local_avgpool")
def _local_avgpool_module(layer: Layer) -> DarknetModule:
    return WindowPool(layer.params_as(PoolParams), average=True)


@module_for("avgpool")
def _avgpool_module(layer: Layer) -> DarknetModule:
    return GlobalAvgpool()
