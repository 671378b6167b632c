"""[normalization] as torch: `forward_normalization_layer` (src/normalization_layer.c). The
torch-free side (options, shapes, weight layout) is core.layers.normalization."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.normalization import NormalizationParams, darknet_lrn_window
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.registry import module_for


class NormalizationModule(DarknetModule):
    window: Tensor  # a buffer (register_buffer)

    def __init__(self, window: np.ndarray, alpha: float, beta: float, kappa: float):
        super().__init__()
        self.register_buffer("window", torch.from_numpy(window).float(), persistent=False)
        self.alpha = alpha
        self.beta = beta
        self.kappa = kappa

    def forward(self, x: Tensor) -> Tensor:
        image = x.reshape(x.shape[0], self.window.shape[0], -1)
        sums = torch.einsum("kj,bjp->bkp", self.window, image * image)
        norms = self.kappa + self.alpha * sums
        return (image * norms.pow(-self.beta)).reshape(x.shape)


@module_for("normalization")
def _normalization_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(NormalizationParams)
    return NormalizationModule(darknet_lrn_window(p.channels, p.size), p.alpha, p.beta,
                               p.kappa)
