"""[crop] as torch: `forward_crop_layer` (src/crop_layer.c) at inference. The torch-free side
(options, shapes, weight layout) is core.layers.crop."""

from __future__ import annotations

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.crop import CropParams
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class CropModule(DarknetModule):
    def __init__(self, top: int, left: int, height: int, width: int, scale: float,
                 shift: float):
        super().__init__()
        self.window = (top, left, height, width)
        self.scale = scale
        self.shift = shift

    def forward(self, x: Tensor) -> Tensor:
        top, left, h, w = self.window
        return x[:, :, top:top + h, left:left + w] * self.scale + self.shift


@module_for("crop")
def _crop_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(CropParams)
    _, h, w = layer.built_shape
    return CropModule(p.top, p.left, h, w, p.scale, p.shift)
