"""[reorg] and [reorg3d]: Darknet's `parse_reorg_old` / `parse_reorg` (src/parser.c),
`forward_reorg_old_layer` (src/reorg_old_layer.c), `forward_reorg_layer`
(src/reorg_layer.c) and `reorg_cpu` (src/blas.c).

Darknet maps `[reorg]` to REORG_OLD (YOLOv2's layer) and `[reorg3d]` to REORG. Both move
elements with `reorg_cpu`, but [reorg] passes it the input's w, h, c and [reorg3d] the
output's; only [reorg3d] (forward) and reversed [reorg] are a plain space-to-depth /
depth-to-space, the other two reinterpret the memory. We reproduce the memory exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    Shape,
    positive,
)
from darknet_inspector.core.layers.registry import register

GATHER_BYTES_PER_ELEMENT = 8 * 8


def reorg_output_shape(c: int, h: int, w: int, stride: int, reverse: bool) -> Shape:
    """`make_reorg_layer` / `make_reorg_old_layer`: reverse multiplies w, h by the stride
    and divides c by stride^2; forward does the opposite (integer division)."""
    if reverse:
        return (c // (stride * stride), h * stride, w * stride)
    return (c * stride * stride, h // stride, w // stride)


def reorg_cpu_gather(w: int, h: int, c: int, stride: int, forward: bool) -> np.ndarray:
    """`reorg_cpu(x, w, h, c, batch, stride, forward, out)` for one sample as a gather:
    out.flat = x.flat[result]. Element (k, j, i) of a (c, h, w) array pairs with element
    (k % c', j*s + (k / c') / s, i*s + (k / c') % s) of a (c', h*s, w*s) array, c' = c/s^2;
    forward writes the small array into the big one, backward the big into the small."""
    in_c = c // (stride * stride)
    k, j, i = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    small = i + w * (j + h * k)
    offset = k // in_c
    big = (i * stride + offset % stride) + w * stride * (
        (j * stride + offset // stride) + h * stride * (k % in_c))
    gather = np.empty(c * h * w, dtype=np.int64)
    if forward:
        gather[big.ravel()] = small.ravel()
    else:
        gather[small.ravel()] = big.ravel()
    return gather


def reorg_cpu_arguments(kind: str, c: int, h: int, w: int, out: Shape,
                        reverse: bool) -> tuple[int, int, int, bool]:
    """(w, h, c, forward) as the layer passes them to `reorg_cpu`: [reorg] (REORG_OLD)
    the input's sizes, [reorg3d] (REORG) the output's; forward=1 only when reversed."""
    if kind == "reorg":
        return w, h, c, reverse
    return out[2], out[1], out[0], reverse


def reorg_fault(kind: str, c: int, h: int, w: int, stride: int, reverse: bool) -> str | None:
    """Why `reorg_cpu` would read or write outside Darknet's buffers, if it would."""
    out = reorg_output_shape(c, h, w, stride, reverse)
    rc = reorg_cpu_arguments(kind, c, h, w, out, reverse)[2]
    if rc % (stride * stride):
        return f"{rc} channels are not a multiple of stride^2 = {stride * stride}"
    if kind == "reorg" and not reverse and (h % stride or w % stride):
        return f"the {w}x{h} input is not a multiple of stride={stride}"
    return None


@dataclass(frozen=True)
class ReorgParams(LayerParams):
    """[reorg] / [reorg3d]: `stride`, `reverse` and the input shape it rearranges."""

    stride: int
    reverse: bool
    in_shape: tuple[int, int, int]


class ReorgBase(LayerType):
    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        stride = positive(s, "stride", s.int("stride", 1))
        reverse = bool(s.int("reverse", 0))
        out = reorg_output_shape(c, h, w, stride, reverse)
        if min(out) < 1:
            raise LayerProblem(f"[{s.name}] stride={stride} turns {c}x{h}x{w} into "
                               f"{'x'.join(map(str, out))}: nothing is left", s.line_of("stride"))
        fault = reorg_fault(self.name, c, h, w, stride, reverse)
        if fault:
            ctx.warn(f"[{s.name}] stride={stride}: {fault}, so Darknet's reorg_cpu reads or "
                     "writes past its buffers; this layer is not run by this tool",
                     s.line_of("stride"))
        params = ReorgParams(stride=stride, reverse=reverse, in_shape=(c, h, w))
        text = f"/{stride}" + (" reverse" if reverse else "")
        return Built(out, params, runnable=fault is None, summary=text)

    def workspace_bytes(self, layer: Layer) -> int:
        """The gather table (int64 per element, kept) and the index grids that build it
        (`reorg_cpu_gather`: about seven more int64 arrays of the same size)."""
        return GATHER_BYTES_PER_ELEMENT * math.prod(layer.params_as(ReorgParams).in_shape)


@register
class Reorg(ReorgBase):
    name = "reorg"


@register
class Reorg3d(ReorgBase):
    name = "reorg3d"


