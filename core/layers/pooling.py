"""[maxpool], [local_avgpool] and the global [avgpool]: Darknet's `make_maxpool_layer`,
`forward_maxpool_layer`, `forward_local_avgpool_layer` (src/maxpool_layer.c) and
`forward_avgpool_layer` (src/avgpool_layer.c)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    positive,
)
from darknet_inspector.core.layers.convolutional import antialiased_size
from darknet_inspector.core.layers.flops import darknet_pool_bflops
from darknet_inspector.core.layers.registry import register


def darknet_pool_out_size(size_in: int, padding: int, size: int, stride: int) -> int:
    """`make_maxpool_layer`: out = (in + padding - size) / stride + 1 (padding is total)."""
    return (size_in + padding - size) // stride + 1


def darknet_pool_pads(size_in: int, size_out: int, padding: int, size: int,
                      stride: int) -> tuple[int, int]:
    """Darknet starts windows at -padding/2; the far side is whatever the last window
    reaches (`forward_maxpool_layer`). Returns (before, after); after may be negative."""
    before = padding // 2
    after = (size_out - 1) * stride + size - size_in - before
    return before, after


@dataclass(frozen=True)
class PoolParams(LayerParams):
    """[maxpool] / [local_avgpool] as `parse_maxpool` reads them: the input (c, h, w),
    window, strides, total padding and output size; `maxpool_depth` pools channels."""

    c: int
    h: int
    w: int
    size: int
    stride_x: int
    stride_y: int
    padding: int
    out_h: int
    out_w: int
    depth: bool = False
    out_channels: int = 1
    antialiasing: int = 0
    blur_stride_x: int = 1
    blur_stride_y: int = 1


def _pool_geometry(ctx: BuildContext) -> PoolParams:
    """Options shared by [maxpool] and [local_avgpool] (`parse_maxpool`, src/parser.c)."""
    s = ctx.section
    c, h, w = ctx.require_chw()
    stride = positive(s, "stride", s.int("stride", 1))
    stride_x = positive(s, "stride_x", s.int("stride_x", stride))
    stride_y = positive(s, "stride_y", s.int("stride_y", stride))
    size = positive(s, "size", s.int("size", stride))
    padding = s.int("padding", size - 1)
    if padding < 0:
        raise LayerProblem(f"[{s.name}] padding={padding} must not be negative",
                           s.line_of("padding"))
    out_h = darknet_pool_out_size(h, padding, size, stride_y)
    out_w = darknet_pool_out_size(w, padding, size, stride_x)
    if out_h < 1 or out_w < 1:
        raise LayerProblem(f"[{s.name}] a {size}x{size} window does not fit the {h}x{w} input",
                           s.line_of("size"))
    return PoolParams(c=c, h=h, w=w, size=size, stride_x=stride_x, stride_y=stride_y,
                      padding=padding, out_h=out_h, out_w=out_w)


def window_pool_workspace(layer: Layer) -> int:
    """`WindowPool` runs on a padded copy of its input (and of a ones plane to count an
    average's cells); a huge `padding=` with a huge stride makes it far larger than the
    output."""
    g = layer.params_as(PoolParams)
    if g.depth or not g.padding:
        return 0
    before_h, after_h = darknet_pool_pads(g.h, g.out_h, g.padding, g.size, g.stride_y)
    before_w, after_w = darknet_pool_pads(g.w, g.out_w, g.padding, g.size, g.stride_x)
    if not any((before_h, after_h, before_w, after_w)):
        return 0
    plane = (g.h + before_h + after_h) * (g.w + before_w + after_w)
    return 4 * (g.c + 1) * plane


def window_pool_bflops(layer: Layer, antialiasing: bool = False) -> float:
    """`l.bflops` of `make_maxpool_layer`: over the input size for `maxpool_depth`, and
    at stride 1 with `antialiasing` (the host layer's own size)."""
    g = layer.params_as(PoolParams)
    if g.depth:
        return darknet_pool_bflops(g.size, g.c, g.h, g.w)
    if antialiasing:
        return darknet_pool_bflops(g.size, g.c, darknet_pool_out_size(g.h, g.padding, g.size, 1),
                                   darknet_pool_out_size(g.w, g.padding, g.size, 1))
    return darknet_pool_bflops(g.size, g.c, g.out_h, g.out_w)


def _summary(g: PoolParams) -> str:
    stride = g.stride_x if g.stride_x == g.stride_y else f"{g.stride_x}x{g.stride_y}"
    return f"{g.size}x{g.size}/{stride}"


@register
class Maxpool(LayerType):
    name = "maxpool"
    known_keys = frozenset({"maxpool_zero_nonmax"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        g = _pool_geometry(ctx)
        depth = bool(s.int("maxpool_depth", 0))
        out_channels = positive(s, "out_channels", s.int("out_channels", 1))
        runnable = True
        antialiasing = s.int("antialiasing", 0)
        if antialiasing and depth:
            runnable = False
            ctx.warn("antialiasing with maxpool_depth=1 is not run by this tool",
                     s.line_of("antialiasing"))
        g = replace(g, depth=depth, out_channels=out_channels)
        if depth:
            return Built((out_channels, g.h, g.w), g, runnable=runnable,
                         summary=f"depth -> {out_channels}")
        if antialiasing:
            return _antialiased_maxpool(ctx, g, antialiasing)
        return Built((g.c, g.out_h, g.out_w), g, runnable=runnable, summary=_summary(g))

    def bflops(self, layer: Layer) -> float:
        return window_pool_bflops(layer, bool(layer.section.int("antialiasing", 0)))

    def workspace_bytes(self, layer: Layer) -> int:
        return window_pool_workspace(layer)


def _antialiased_maxpool(ctx: BuildContext, g: PoolParams, antialiasing: int) -> Built:
    """`make_maxpool_layer` with `antialiasing`: the maxpool at stride 1 (the geometry
    kept in the params), then the blur at the layer's stride (core.layers.antialias)."""
    host = replace(g, stride_x=1, stride_y=1,
                   out_h=darknet_pool_out_size(g.h, g.padding, g.size, 1),
                   out_w=darknet_pool_out_size(g.w, g.padding, g.size, 1),
                   antialiasing=antialiasing, blur_stride_x=g.stride_x,
                   blur_stride_y=g.stride_y)
    out_h, out_w = antialiased_size(ctx, (host.out_h, host.out_w), antialiasing,
                                    g.stride_x, g.stride_y)
    return Built((g.c, out_h, out_w), host, summary=f"{_summary(g)} aa{antialiasing}")


@register
class LocalAvgpool(LayerType):
    name = "local_avgpool"

    def build(self, ctx: BuildContext) -> Built:
        g = _pool_geometry(ctx)
        return Built((g.c, g.out_h, g.out_w), g, summary=_summary(g))

    def bflops(self, layer: Layer) -> float:
        return window_pool_bflops(layer)

    def workspace_bytes(self, layer: Layer) -> int:
        return window_pool_workspace(layer)


@register
class Avgpool(LayerType):
    name = "avgpool"

    def build(self, ctx: BuildContext) -> Built:
        c, _, _ = ctx.require_chw()
        return Built((c, 1, 1), summary="global")


