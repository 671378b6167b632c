"""[convolutional] as torch: `forward_convolutional_layer` (src/convolutional_layer.c)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from darknet_inspector.core.layers.base import Layer, as_chw
from darknet_inspector.core.layers.convolutional import (
    BN_EPSILON,
    ConvolutionalParams,
    darknet_conv_out_size,
)
from darknet_inspector.core.torch_layers.activations import Activate
from darknet_inspector.core.torch_layers.antialias import AntialiasBlur
from darknet_inspector.core.torch_layers.base import DarknetModule, empty_parameter
from darknet_inspector.core.torch_layers.fastconv import PackedConv
from darknet_inspector.core.torch_layers.held import not_runnable_message, refuse_if_not_runnable
from darknet_inspector.core.torch_layers.registry import module_for


class ConvModule(DarknetModule):
    """Conv + (BN | bias) + activation, computed the way Darknet computes it."""

    keeps_layout = True

    def __init__(self, layer: Layer):
        super().__init__()
        p = layer.params_as(ConvolutionalParams)
        self.n = p.filters
        self.stride = (1, 1) if p.antialiasing else (p.stride_y, p.stride_x)
        self.blur = AntialiasBlur(p.filters, p.antialiasing, p.stride_x, p.stride_y) \
            if p.antialiasing else None
        self.dilation = p.dilation
        self.padding = p.padding
        self.groups = p.groups
        self.size = p.size
        self.batch_normalize = p.batch_normalize
        self.xnor = p.xnor
        self.binary = p.binary or p.xnor
        self.fused = False
        self.in_shape = layer.input_shape
        self.out_hw = layer.built_shape[1:]
        if p.antialiasing and layer.input_shape is not None:  # the host conv's, at stride 1
            self.out_hw = tuple(darknet_conv_out_size(d, p.padding, p.size, 1)
                                for d in as_chw(layer.input_shape)[1:])
        self.act = Activate(p.activation)
        self.packed = PackedConv(self.stride, self.padding, self.groups, self.act.name)
        self.refusal = None if layer.runnable else not_runnable_message(layer)
        self.share_from = p.share_from
        self.shared = False  # tensors used by two layers (share_index): never folded in place
        if self.share_from is None:
            self.weights = empty_parameter(self.n, p.in_channels // self.groups,
                                           self.size, self.size)
            self.biases = empty_parameter(self.n)
            if self.batch_normalize:
                self.scales = empty_parameter(self.n)
                self.rolling_mean = empty_parameter(self.n)
                self.rolling_variance = empty_parameter(self.n)

    def share(self, other: ConvModule) -> None:
        """`share_index`: use another conv's tensors (`make_convolutional_layer`). At
        inference `fuse_conv_batchnorm` (src/network.c) folds the shared layer's batch
        norm into those tensors and clears this layer's own `batch_normalize`, so this
        layer computes the shared conv with the shared layer's batch norm, whatever its
        own `batch_normalize` says."""
        self.weights = other.weights
        self.biases = other.biases
        self.shared = other.shared = True
        self.batch_normalize = other.batch_normalize
        if self.batch_normalize:
            self.scales = other.scales
            self.rolling_mean = other.rolling_mean
            self.rolling_variance = other.rolling_variance

    def fuse(self, in_place: bool = False) -> None:
        """Fold BN into weights and biases (`fuse_conv_batchnorm`, src/network.c).
        `in_place`: overwrite this layer's weights and biases instead of making new ones
        (one pass, no new memory: 0.09 s instead of 0.3 s for yolov4, issue 15), for a
        caller that keeps nothing else of them; the values are the same to the bit.
        Tensors shared with another layer (`shared`) always get new ones."""
        if not self.batch_normalize or self.fused or self.binary:
            return
        with torch.no_grad():
            factor = self.scales / torch.sqrt(self.rolling_variance + BN_EPSILON)
            if in_place and not self.shared:
                self.weights.mul_(factor.view(-1, 1, 1, 1))
                self.biases.sub_(factor * self.rolling_mean)
            else:
                weights = self.weights * factor.view(-1, 1, 1, 1)
                biases = self.biases - factor * self.rolling_mean
                self.weights = nn.Parameter(weights, requires_grad=False)
                self.biases = nn.Parameter(biases, requires_grad=False)
        self.fused = True

    def _weights(self) -> Tensor:
        if not self.binary:
            return self.weights
        mean = self.weights.abs().mean(dim=(1, 2, 3), keepdim=True)
        return torch.where(self.weights > 0, mean, -mean)

    def forward(self, x: Tensor) -> Tensor:
        """The conv, then the antialiasing blur when the layer has one."""
        y = self._convolve(x)
        return y if self.blur is None else self.blur(y)

    def _convolve(self, x: Tensor) -> Tensor:
        refuse_if_not_runnable(self.refusal)
        if x.dim() == 2:
            x = x.view(x.shape[0], -1, 1, 1)
        if self.xnor:
            x = torch.where(x > 0, 1.0, -1.0).to(x.dtype)
        weights = self._weights()
        if self.dilation == 1 and (self.fused or not self.batch_normalize):
            y = None if self.binary else self.packed(x, weights, self.biases)
            if y is not None:  # packed weights, activation fused where oneDNN has it
                return y if self.packed.fuses_activation else self.act(y)
            return self.act(F.conv2d(x, weights, self.biases, self.stride, self.padding, 1,
                                     self.groups))  # bias added inside the conv: one pass less
        if self.dilation == 1:
            y = F.conv2d(x, weights, None, self.stride, self.padding, 1, self.groups)
        else:
            y = self._dilated(x, weights)
        if self.batch_normalize and not self.fused:
            y = F.batch_norm(y, self.rolling_mean, self.rolling_variance, self.scales,
                             self.biases, False, 0.0, BN_EPSILON)
        else:
            y = y + self.biases.view(1, -1, 1, 1)
        return self.act(y)

    def _dilated(self, x: Tensor, weights: Tensor) -> Tensor:
        """`forward_convolutional_layer` passes `padding * dilation` to `im2col_cpu_ext`
        (src/im2col.c) as the top/left padding and keeps the undilated output size; the
        bottom/right padding is whatever the dilated kernel then reaches."""
        out_h, out_w = self.out_hw
        reach = self.dilation * (self.size - 1) + 1
        pad = self.padding * self.dilation
        pad_bottom = (out_h - 1) * self.stride[0] + reach - x.shape[2] - pad
        pad_right = (out_w - 1) * self.stride[1] + reach - x.shape[3] - pad
        x = F.pad(x, (pad, pad_right, pad, pad_bottom))
        return F.conv2d(x, weights, None, self.stride, 0, self.dilation, self.groups)


@module_for("convolutional")
def _convolutional_module(layer: Layer) -> DarknetModule:
    return ConvModule(layer)
