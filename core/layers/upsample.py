"""[upsample]: Darknet's `make_upsample_layer` / `forward_upsample_layer`
(src/upsample_layer.c). A negative stride sums stride x stride blocks instead."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
)
from darknet_inspector.core.layers.registry import register


@dataclass(frozen=True)
class UpsampleParams(LayerParams):
    """[upsample]: `stride` (negative: downsample) and the `scale` multiplied in."""

    stride: int
    scale: float


@register
class Upsample(LayerType):
    name = "upsample"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        stride = s.int("stride", 2)
        scale = s.float("scale", 1.0)
        if stride == 0:
            raise LayerProblem("[upsample] stride=0 is not allowed", s.line_of("stride"))
        if stride > 0:
            out = (c, h * stride, w * stride)
            text = f"x{stride}"
        else:
            out = (c, h // -stride, w // -stride)
            text = f"/{-stride}"
            if out[1] < 1 or out[2] < 1:
                raise LayerProblem(f"[upsample] stride={stride} shrinks {w}x{h} to nothing",
                                   s.line_of("stride"))
        if scale != 1.0:
            text += f" scale {scale:g}"
        return Built(out, UpsampleParams(stride, scale), summary=text)


