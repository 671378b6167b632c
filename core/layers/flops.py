"""BFLOPS as Darknet counts them when it loads a network: each layer's `l.bflops` (a
float in `struct layer`, src/layer.h) and the "Total BFLOPS" that `parse_network_cfg_custom`
(src/parser.c) prints, a float32 sum of the layers whose `l.bflops` is positive.

Only four layer families set `l.bflops` in AlexeyAB's Darknet: convolutional, maxpool /
local_avgpool, shortcut, and the recurrent convs ([crnn], [conv_lstm]) through their inner
convolutions. Each layer type answers `LayerType.bflops` with the functions below; every
other layer counts 0 (as in Darknet, whatever it computes).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

GIGA = 1000000000.0


def c_float(value: float) -> float:
    """A C `double` stored into a `float` field (round to float32), as a Python float."""
    return float(np.float32(value))


def c_int32_product(*factors: int) -> int:
    """`a * b * c ...` in C `int` arithmetic, left to right: wraps at 32 bits (what the
    compilers Darknet is built with do), e.g. in `make_maxpool_layer`'s bflops."""
    product = 1
    for factor in factors:
        product = (product * factor + 2**31) % 2**32 - 2**31
    return product


def darknet_conv_bflops(channels: int, filters: int, groups: int, size: int, out_h: int,
                        out_w: int, xnor: bool) -> float:
    """`make_convolutional_layer` (src/convolutional_layer.c): `nweights = (c/groups) * n
    * size*size` (xnor forces groups=1), `bflops = 2.0 * nweights * out_h*out_w / 1e9`
    in double, stored as float, then `/ 32` for xnor. Dilation is not counted."""
    if xnor:
        groups = 1
    nweights = (channels // groups) * filters * size * size
    bflops = c_float(2.0 * nweights * out_h * out_w / GIGA)
    return c_float(np.float32(bflops) / np.float32(32)) if xnor else bflops


def darknet_pool_bflops(size: int, channels: int, out_h: int, out_w: int) -> float:
    """`make_maxpool_layer` (src/maxpool_layer.c, also [local_avgpool]): `(size*size*c *
    out_h*out_w) / 1e9`, the product in C int."""
    return c_float(c_int32_product(size, size, channels, out_h, out_w) / GIGA)


def darknet_shortcut_bflops(out_c: int, out_h: int, out_w: int, sources: int,
                            weighted: bool) -> float:
    """`make_shortcut_layer` (src/shortcut_layer.c): `out_w*out_h*out_c*n / 1e9` with n
    the number of `from=` layers (the product in C int), doubled with `weights_type`."""
    bflops = c_float(c_int32_product(out_w, out_h, out_c, sources) / GIGA)
    return c_float(np.float32(bflops) * np.float32(2)) if weighted else bflops


def darknet_float_sum(values: Iterable[float]) -> float:
    """`a->bflops + b->bflops + ...` in C float arithmetic (each addition rounded)."""
    total = np.float32(0)
    for value in values:
        total = np.float32(total + np.float32(value))
    return float(total)


def darknet_conv_lstm_bflops(inner: Iterable[float], outputs: int, peephole: bool,
                             batch: int = 1) -> float:
    """`make_conv_lstm_layer` (src/conv_lstm_layer.c): the float sum of its 11 inner
    convolutions' bflops (absent ones count 0), plus `12` (peephole) or `9` `* outputs *
    batch / 1e9` in double; `batch` is 1 as `detector test` loads a network."""
    total = darknet_float_sum(inner)
    return c_float(total + (12 if peephole else 9) * outputs * batch / GIGA)


def darknet_total_bflops(per_layer: Iterable[float]) -> float:
    """`parse_network_cfg_custom` (src/parser.c): `float bflops = 0;` and, per layer,
    `if (l.bflops > 0) bflops += l.bflops;` — the "Total BFLOPS" Darknet prints."""
    return darknet_float_sum(value for value in per_layer if value > 0)
