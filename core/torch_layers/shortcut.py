"""[shortcut] as torch: `shortcut_multilayer_cpu` (src/blas.c) and the inference-time
weight normalisation of `fuse_conv_batchnorm` (src/network.c). The torch-free side
(options, shapes, weight layout) is core.layers.shortcut."""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.shortcut import ShortcutParams
from darknet_inspector.core.torch_layers.activations import Activate
from darknet_inspector.core.torch_layers.base import DarknetModule, empty_parameter
from darknet_inspector.core.torch_layers.registry import module_for


class ShortcutModule(DarknetModule):
    keeps_layout = True

    def __init__(self, layer: Layer):
        super().__init__()
        p = layer.params_as(ShortcutParams)
        self.weights_type = p.weights_type
        self.normalization = p.normalization
        self.out_shape = layer.output_shape
        self.act = Activate(p.activation)
        if self.weights_type:
            self.weights = empty_parameter(*layer.weights[0].shape)

    def _mixing_weights(self) -> Tensor:
        """One weight per input (rows) [per channel]: normalised as Darknet's inference
        path does it (`fuse_conv_batchnorm`, see `inference_relu_normalization`)."""
        w = self.weights if self.weights.dim() == 2 else self.weights.view(-1, 1)
        if self.normalization == "relu":
            w = inference_relu_normalization(w)
            w = w / (w.sum(dim=0, keepdim=True) + 0.0001)
        elif self.normalization == "softmax":
            e = torch.exp(w - w.amax(dim=0, keepdim=True))
            w = e / (e.sum(dim=0, keepdim=True) + 0.0001)
        return w

    def forward(self, x: Tensor, *others: Tensor) -> Tensor:
        weights = self._mixing_weights() if self.weights_type else None
        out = x if weights is None else x * _weight_per_output_channel(weights[0], x)
        for i, other in enumerate(others, start=1):
            add = _aligned_to(other, x)
            if weights is not None:
                add = add * _weight_per_output_channel(weights[i], x)
            out = out + add
        return self.act(out)


def inference_relu_normalization(w: Tensor) -> Tensor:
    """`fuse_conv_batchnorm` (src/network.c), which every Darknet inference path calls
    (`detector test`, `demo`, `valid`, `network_predict` users), pre-normalizes
    relu-normalized shortcut weights with its `lrelu(w) = max(w, 0.001)`, not the
    training forward's relu (`shortcut_multilayer_cpu`, src/blas.c): a negative weight
    keeps 0.001, not 0. hank-ai's Darknet does the same."""
    return w.clamp(min=0.001)


def _weight_per_output_channel(w: Tensor, x: Tensor) -> Tensor:
    """A scalar (per_feature) or one weight per output channel (per_channel)."""
    if w.numel() == 1:
        return w.reshape(())
    return w.view((1, -1) + (1,) * (x.dim() - 2))


def _aligned_to(add: Tensor, out: Tensor) -> Tensor:
    """Darknet adds flat element i of `add` to flat element i of the output for every i
    below both sizes (`shortcut_multilayer_cpu`): crop or zero-pad `add` in flat order."""
    if add.shape == out.shape:
        return add
    flat = add.reshape(add.shape[0], -1)
    size = out[0].numel()
    if flat.shape[1] >= size:
        flat = flat[:, :size]
    else:
        flat = torch.nn.functional.pad(flat, (0, size - flat.shape[1]))
    return flat.reshape(out.shape)


@module_for("shortcut")
def _shortcut_module(layer: Layer) -> DarknetModule:
    return ShortcutModule(layer)
