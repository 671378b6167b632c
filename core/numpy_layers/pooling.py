"""[maxpool], [local_avgpool], [avgpool] as numpy: `forward_maxpool_layer`,
`forward_local_avgpool_layer` (src/maxpool_layer.c), `forward_avgpool_layer`
(src/avgpool_layer.c), on (H, W, C) arrays, the same rules as core.torch_layers.pooling."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.pooling import PoolParams, darknet_pool_pads
from darknet_inspector.core.numpy_layers.registry import NotCovered, Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def padded_windows(x: np.ndarray, g: PoolParams, fill: float) -> list[np.ndarray]:
    """Every window tap of the pool over `x` padded as Darknet pads it (windows start at
    -padding/2, the far side whatever the last window reaches, `darknet_pool_pads`)."""
    top, _ = darknet_pool_pads(g.h, g.out_h, g.padding, g.size, g.stride_y)
    left, _ = darknet_pool_pads(g.w, g.out_w, g.padding, g.size, g.stride_x)
    need_h = (g.out_h - 1) * g.stride_y + g.size
    need_w = (g.out_w - 1) * g.stride_x + g.size
    h, w, c = x.shape
    xp = np.full((need_h, need_w, c), fill, np.float32)
    src_h, src_w = min(h, need_h - top), min(w, need_w - left)
    xp[top:top + src_h, left:left + src_w] = x[:src_h, :src_w]
    return [xp[dy:dy + (g.out_h - 1) * g.stride_y + 1:g.stride_y,
               dx:dx + (g.out_w - 1) * g.stride_x + 1:g.stride_x]
            for dy in range(g.size) for dx in range(g.size)]


def maxpool_step(g: PoolParams) -> Step:
    """Padded cells (-inf) never win."""
    def maxpool(x: np.ndarray) -> np.ndarray:
        taps = padded_windows(x, g, -np.inf)
        out = taps[0].copy()
        for tap in taps[1:]:
            np.maximum(out, tap, out=out)
        return out

    return maxpool


def local_avgpool_step(g: PoolParams) -> Step:
    """The mean over the window's cells inside the input (padded cells not counted)."""
    def local_avgpool(x: np.ndarray) -> np.ndarray:
        taps = padded_windows(x, g, 0.0)
        ones = padded_windows(np.ones(x.shape[:2] + (1,), np.float32), g, 0.0)
        total = taps[0].copy()
        count = ones[0].copy()
        for tap, one in zip(taps[1:], ones[1:]):
            total += tap
            count += one
        return total / count

    return local_avgpool


def maxpool_depth_step(out_channels: int) -> Step:
    """`maxpool_depth=1`: output channel g is the max over input channels g, g+out_c, ..."""
    def maxpool_depth(x: np.ndarray) -> np.ndarray:
        h, w, c = x.shape
        groups = -(-c // out_channels)
        padded = np.full((h, w, groups * out_channels), -np.inf, np.float32)
        padded[:, :, :c] = x
        return padded.reshape(h, w, groups, out_channels).max(axis=2)

    return maxpool_depth


def global_avgpool(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=(0, 1), dtype=np.float32, keepdims=True)


def _refuse_uncovered(layer: Layer) -> None:
    g = layer.params_as(PoolParams)
    if g.antialiasing:
        raise NotCovered(f"antialiasing={g.antialiasing}")


@step_for("maxpool", check=_refuse_uncovered)
def _maxpool_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    g = layer.params_as(PoolParams)
    return maxpool_depth_step(g.out_channels) if g.depth else maxpool_step(g)


@step_for("local_avgpool")
def _local_avgpool_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    return local_avgpool_step(layer.params_as(PoolParams))


@step_for("avgpool")
def _avgpool_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    return global_avgpool
