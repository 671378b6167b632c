"""[local]: Darknet's `parse_local` (src/parser.c), `make_local_layer` and
`forward_local_layer` (src/local_layer.c): a convolution with its own weights at every
output location (no weight sharing)."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.activation import plain_activation
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
    TensorSpec,
    positive,
)
from darknet_inspector.core.layers.registry import register


def local_out_size(size_in: int, size: int, stride: int, pad: bool) -> int:
    """`local_out_height/width`: `pad` is a flag; with it the window count is
    (in - 1) / stride + 1, without it (in - size) / stride + 1."""
    return (size_in - (1 if pad else size)) // stride + 1


def im2col_size(size_in: int, size: int, stride: int, pad: bool) -> int:
    """What `im2col_cpu` (src/im2col.c) lays out: it pads by the flag's value (0 or 1)."""
    return (size_in + 2 * int(pad) - size) // stride + 1


@dataclass(frozen=True)
class LocalParams(LayerParams):
    """[local] as `parse_local` reads it (`pad` is a flag: 1 pixel or none)."""

    filters: int
    size: int
    stride: int
    pad: bool
    activation: str
    zeroes: bool


@register
class Local(LayerType):
    name = "local"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        n = positive(s, "filters", s.int("filters", 1))
        size = positive(s, "size", s.int("size", 1))
        stride = positive(s, "stride", s.int("stride", 1))
        pad = bool(s.int("pad", 0))
        activation, zeroes = plain_activation(ctx, "logistic")
        out_h = local_out_size(h, size, stride, pad)
        out_w = local_out_size(w, size, stride, pad)
        if out_h < 1 or out_w < 1:
            raise LayerProblem(f"[local] a {size}x{size} window does not fit the {w}x{h} "
                               "input", s.line_of("size"))
        runnable = (im2col_size(h, size, stride, pad), im2col_size(w, size, stride, pad)) \
            == (out_h, out_w)
        if not runnable:
            ctx.warn(f"[local] pad=1 with size={size}: Darknet sizes the output for a 3x3 "
                     "window but im2col pads by 1 pixel, so its columns do not line up; not "
                     "run by this tool", s.line_of("pad"))
        locations = out_h * out_w
        weights = [TensorSpec("biases", (n, out_h, out_w)),
                   TensorSpec("weights", (locations, n, c, size, size))]
        params = LocalParams(filters=n, size=size, stride=stride, pad=pad,
                             activation=activation, zeroes=zeroes)
        return Built((n, out_h, out_w), params, weights, runnable=runnable,
                     summary=f"{n} {size}x{size}/{stride} {activation}")


