"""The fixed blur of `antialiasing=` (core.layers.antialias has its size): the module
`make_convolutional_layer` (src/convolutional_layer.c) and `make_maxpool_layer`
(src/maxpool_layer.c) put after the host layer as `l.input_layer`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from darknet_inspector.core.layers.antialias import darknet_blur_size_and_pad


def darknet_blur_kernel(antialiasing: int) -> Tensor:
    """The blur's weights, the same for every channel: 1/4 each for the 2x2 kernel,
    (1 2 1; 2 4 2; 1 2 1)/16 for the 3x3 one."""
    if darknet_blur_size_and_pad(antialiasing)[0] == 2:
        return torch.full((2, 2), 0.25)
    row = torch.tensor([1.0, 2.0, 1.0])
    return torch.outer(row, row) / 16.0


class AntialiasBlur(nn.Module):
    """The fixed depthwise blur at the host layer's stride (no tensors in the weights
    file, none in the state_dict)."""

    kernel: Tensor  # a buffer (register_buffer)

    def __init__(self, channels: int, antialiasing: int, stride_x: int, stride_y: int):
        super().__init__()
        size, self.padding = darknet_blur_size_and_pad(antialiasing)
        self.stride = (stride_y, stride_x)
        self.channels = channels
        kernel = darknet_blur_kernel(antialiasing).expand(channels, 1, size, size)
        self.register_buffer("kernel", kernel.contiguous(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), None, self.stride, self.padding, 1,
                        self.channels)

    def extra_repr(self) -> str:
        k = self.kernel.shape[-1]
        return f"{self.channels}, {k}x{k}, stride={self.stride}"
