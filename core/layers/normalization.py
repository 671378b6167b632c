"""[normalization] (alias [lrn]): Darknet's `parse_normalization` (src/parser.c) and
`forward_normalization_layer` (src/normalization_layer.c): local response normalisation
across channels, out = x * (kappa + alpha * window sum of x^2) ^ -beta."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerType,
    positive,
)
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.limits import check_allocation


def darknet_lrn_window(channels: int, size: int) -> np.ndarray:
    """Which squared channels each channel's norm sums, as `forward_normalization_layer`
    builds it: channel 0 starts from channels 0 .. size/2 - 1, and channel k adds
    k + size/2 and drops k - (size-1)/2 - 1 from channel k-1's sum. (So channel size/2 is
    never in channel 0's window: Darknet's own off-by-one, kept.)"""
    check_allocation(8 * channels * channels, f"the {channels}x{channels} [normalization] "
                     "window")
    window = np.zeros((channels, channels), dtype=np.float64)
    window[0, : min(size // 2, channels)] = 1.0
    for k in range(1, channels):
        window[k] = window[k - 1]
        prev = k - (size - 1) // 2 - 1
        nxt = k + size // 2
        if prev >= 0:
            window[k, prev] -= 1.0
        if nxt < channels:
            window[k, nxt] += 1.0
    return window


@dataclass(frozen=True)
class NormalizationParams(LayerParams):
    """[normalization] (LRN) as `parse_normalization` reads it, and its channels."""

    alpha: float
    beta: float
    kappa: float
    size: int
    channels: int


@register
class Normalization(LayerType):
    name = "normalization"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        size = positive(s, "size", s.int("size", 5))
        params = NormalizationParams(alpha=s.float("alpha", 0.0001),
                                     beta=s.float("beta", 0.75), kappa=s.float("kappa", 1.0),
                                     size=size, channels=c)
        runnable = size // 2 <= c
        if not runnable:
            ctx.warn(f"[{s.name}] size={size}: Darknet starts channel 0's window with "
                     f"size/2 = {size // 2} channels but there are only {c}, so it reads past "
                     "the layer; not run by this tool", s.line_of("size"))
        return Built(ctx.require_input(), params, runnable=runnable, summary=f"size {size}")

    def workspace_bytes(self, layer: Layer) -> int:
        """The channels x channels window (float64 while built)."""
        return 8 * layer.params_as(NormalizationParams).channels ** 2


