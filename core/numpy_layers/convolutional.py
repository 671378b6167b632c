"""[convolutional] as numpy: `forward_convolutional_layer` (src/convolutional_layer.c) on
(H, W, C) arrays, batch norm folded first as `fuse_conv_batchnorm` (src/network.c) does.

Each block of output rows is an im2col copy (rows, W_out, k*k*C/groups) times the weights
in one sgemm, then bias and activation in place while the block is still in cache. A
depthwise conv (one input channel per group) is k*k multiply-adds instead."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.convolutional import BN_EPSILON, ConvolutionalParams
from darknet_inspector.core.numpy_layers.activations import InPlace, activation_step
from darknet_inspector.core.numpy_layers.registry import NotCovered, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool, scratch


def _refuse_uncovered(layer: Layer) -> None:
    """NotCovered for the options this step does not implement (Darknet's antialiasing
    blur, XNOR/binary weights, `dontloadscales`) and activations without a numpy form."""
    p = layer.params_as(ConvolutionalParams)
    for option, value in (("antialiasing", p.antialiasing), ("xnor", int(p.xnor)),
                          ("binary", int(p.binary)),
                          ("dontloadscales", layer.section.int("dontloadscales", 0))):
        if value:
            raise NotCovered(f"{option}={value}")
    activation_step(p.activation)


def folded_conv(tensors: Tensors) -> tuple[np.ndarray, np.ndarray]:
    """(weights (n, k, k, c) with BN folded in, biases (n,)): `fuse_conv_batchnorm`
    (src/network.c), factor = scales / sqrt(rolling_variance + .00001); weights arrive
    (n, c, k, k) and leave in the im2col order of an (H, W, C) input, in one pass."""
    weights = tensors["weights"]
    biases = tensors["biases"].astype(np.float32)
    n, c, kh, kw = weights.shape
    out = np.empty((n, kh, kw, c), np.float32)
    if "scales" in tensors:
        factor = (tensors["scales"] / np.sqrt(tensors["rolling_variance"]
                                              + np.float32(BN_EPSILON))).astype(np.float32)
        np.multiply(weights.transpose(0, 2, 3, 1), factor[:, None, None, None],
                    out=out)
        biases = biases - factor * tensors["rolling_mean"]
    else:
        out[...] = weights.transpose(0, 2, 3, 1)
    return out, biases.astype(np.float32)


@dataclass
class ConvStep:
    """One conv layer's geometry and folded tensors."""

    weights: np.ndarray  # (n, k, k, c/groups)
    biases: np.ndarray
    stride: tuple[int, int]  # (y, x)
    dilation: int
    padding: int
    groups: int
    out_hw: tuple[int, int]
    act: InPlace
    rows: RowPool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xp = self._padded(x)
        out_h, out_w = self.out_hw
        n = self.weights.shape[0]
        out = np.empty((out_h, out_w, n), np.float32)
        k = self.weights.shape[1]
        c_in = self.weights.shape[3]
        if c_in == 1 and self.groups > 1:
            self.rows.run(lambda a, b: self._depthwise(xp, out, a, b), out_h, out_w * n * k)
        else:
            self.rows.run(lambda a, b: self._gemm(xp, out, a, b), out_h,
                          out_w * k * k * c_in)
        return out

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """The input zero-padded as `im2col_cpu_ext` (src/im2col.c) reads it: padding *
        dilation before, whatever the (dilated) kernel reaches after (maybe less)."""
        h, w, c = x.shape
        k = self.weights.shape[1]
        reach = self.dilation * (k - 1) + 1
        pad = self.padding * self.dilation
        need_h = (self.out_hw[0] - 1) * self.stride[0] + reach
        need_w = (self.out_hw[1] - 1) * self.stride[1] + reach
        if pad == 0 and need_h <= h and need_w <= w:
            return x
        xp = np.zeros((need_h, need_w, c), np.float32)
        src_h, src_w = min(h, need_h - pad), min(w, need_w - pad)
        xp[pad:pad + src_h, pad:pad + src_w] = x[:src_h, :src_w]
        return xp

    def _taps(self, xp: np.ndarray, start: int, stop: int):
        """(tap index, the input rows/columns that tap reads for output rows start..stop)."""
        k = self.weights.shape[1]
        sy, sx = self.stride
        rows, out_w = stop - start, self.out_hw[1]
        for dy in range(k):
            y0 = start * sy + dy * self.dilation
            for dx in range(k):
                x0 = dx * self.dilation
                yield dy * k + dx, xp[y0:y0 + (rows - 1) * sy + 1:sy,
                                      x0:x0 + (out_w - 1) * sx + 1:sx]

    def _columns(self, xp: np.ndarray, start: int, stop: int) -> np.ndarray:
        """im2col of output rows start..stop: (rows*W_out, groups*k*k*C/groups), each
        row the window of one output position, taps (dy, dx) then channels."""
        _, k, _, c_in = self.weights.shape
        rows, out_w = stop - start, self.out_hw[1]
        if k == 1 and self.stride == (1, 1) and self.groups == 1:
            return xp[start:stop].reshape(rows * out_w, c_in)
        shape = (rows, out_w, self.groups, k * k, c_in)
        cols = scratch(math.prod(shape)).reshape(shape)
        for tap, window in self._taps(xp, start, stop):
            cols[:, :, :, tap, :] = window.reshape(rows, out_w, self.groups, c_in)
        return cols.reshape(rows * out_w, self.groups * k * k * c_in)

    def _gemm(self, xp: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
        """Output rows start..stop: their im2col block times the weights."""
        n, k, _, c_in = self.weights.shape
        block = out[start:stop].reshape(-1, n)
        cols = self._columns(xp, start, stop)
        if self.groups == 1:
            np.matmul(cols, self.weights.reshape(n, -1).T, out=block)
        else:
            per = n // self.groups
            g_cols = cols.reshape(len(block), self.groups, k * k * c_in)
            g_w = self.weights.reshape(self.groups, per, k * k * c_in)
            for g in range(self.groups):
                block[:, g * per:(g + 1) * per] = g_cols[:, g] @ g_w[g].T
        block += self.biases
        self.act(block)

    def _depthwise(self, xp: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
        """Groups of one input channel: output channel o reads input channel o // per."""
        n, k = self.weights.shape[:2]
        per = n // self.groups
        block = out[start:stop]
        taps = self.weights.reshape(n, k * k).T  # (k*k, n)
        block[...] = self.biases
        for tap, window in self._taps(xp, start, stop):
            if per > 1:
                window = np.repeat(window, per, axis=2)
            block += window * taps[tap]
        self.act(block.reshape(-1, n))


@step_for("convolutional", check=_refuse_uncovered)
def _convolutional_step(layer: Layer, tensors: Tensors, rows: RowPool) -> ConvStep:
    p = layer.params_as(ConvolutionalParams)
    weights, biases = folded_conv(tensors)
    _, out_h, out_w = layer.built_shape
    return ConvStep(weights, biases, (p.stride_y, p.stride_x), p.dilation, p.padding,
                    p.groups, (out_h, out_w), activation_step(p.activation), rows)
