"""[sam] and [scale_channels]: Darknet's `parse_sam` / `parse_scale_channels`
(src/parser.c), `forward_sam_layer` (src/sam_layer.c) and `forward_scale_channels_layer`
(src/scale_channels_layer.c). Both multiply the previous layer's output into the output
of the `from=` layer, whose shape the result takes."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.activation import plain_activation
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
    as_chw,
)
from darknet_inspector.core.layers.registry import register


def single_from_layer(ctx: BuildContext) -> int:
    """`from=` read with atoi (src/parser.c): one layer, relative when negative; extra
    entries are ignored by Darknet."""
    s = ctx.section
    values = s.ints("from")
    if not values:
        raise LayerProblem(f"[{s.name}] needs from= naming the layer to multiply with",
                           s.line)
    if len(values) > 1:
        ctx.warn(f"[{s.name}] from={','.join(map(str, values))}: Darknet reads only the "
                 f"first layer ({values[0]})", s.line_of("from"))
    return ctx.resolve_layer(values[0], "from")


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


@dataclass(frozen=True)
class SamParams(LayerParams):
    """[sam]: the `from=` layer (absolute) and the plain activation after the product."""

    source: int
    activation: str
    zeroes: bool


@dataclass(frozen=True)
class ScaleChannelsParams(LayerParams):
    """[scale_channels]: the `from=` layer, `scale_wh`, the activation, and the shape of
    the scales (the previous layer's output)."""

    source: int
    scale_wh: bool
    activation: str
    zeroes: bool
    scale_shape: tuple[int, int, int]


@register
class Sam(LayerType):
    name = "sam"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        source = single_from_layer(ctx)
        shape = as_chw(ctx.require_input())
        other = as_chw(ctx.output_of(source))
        if other != shape:
            raise LayerProblem(
                f"[sam] multiplies the previous layer ({_shape_text(shape)}) by layer "
                f"{source} ({_shape_text(other)}) element by element; Darknet asserts they "
                "have the same shape", s.line_of("from"))
        activation, zeroes = plain_activation(ctx, "linear")
        params = SamParams(source=source, activation=activation, zeroes=zeroes)
        return Built(ctx.output_of(source), params, inputs=(ctx.index - 1, source),
                     summary=f"x {source} {activation}")


@register
class ScaleChannels(LayerType):
    name = "scale_channels"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        source = single_from_layer(ctx)
        c, h, w = as_chw(ctx.require_input())
        oc, oh, ow = as_chw(ctx.output_of(source))
        scale_wh = bool(s.int("scale_wh", 0))
        if scale_wh and (c != 1 or (h, w) != (oh, ow)):
            raise LayerProblem(
                f"[scale_channels] scale_wh=1 scales layer {source} ({oc}x{oh}x{ow}) by one "
                f"{ow}x{oh} map, but the previous layer is {c}x{h}x{w}; Darknet asserts it "
                f"is 1x{oh}x{ow}", s.line_of("scale_wh"))
        if not scale_wh and ((h, w) != (1, 1) or c != oc):
            raise LayerProblem(
                f"[scale_channels] scales the {oc} channels of layer {source} by one value "
                f"each, but the previous layer is {c}x{h}x{w}; Darknet asserts it is "
                f"{oc}x1x1 (e.g. after [avgpool])", s.line_of("from"))
        activation, zeroes = plain_activation(ctx, "linear")
        params = ScaleChannelsParams(source=source, scale_wh=scale_wh,
                                     activation=activation, zeroes=zeroes,
                                     scale_shape=(c, h, w))
        text = f"x {source}" + (" wh" if scale_wh else "") + f" {activation}"
        return Built(ctx.output_of(source), params, inputs=(ctx.index - 1, source),
                     summary=text)


