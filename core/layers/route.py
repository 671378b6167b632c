"""[route]: Darknet's `parse_route` (src/parser.c) and `forward_route_layer`
(src/route_layer.c): concatenate the group_id-th of `groups` slices of each input."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
    as_chw,
    positive,
)
from darknet_inspector.core.layers.registry import register


def route_layer_indices(ctx: BuildContext, key: str) -> list[int]:
    """Parse a `layers=`/`from=` list into absolute layer indices (relative if < 0)."""
    values = ctx.section.ints(key)
    if not values:
        raise LayerProblem(f"[{ctx.section.name}] needs {key}= naming its input layers",
                           ctx.section.line)
    return [ctx.resolve_layer(v, key) for v in values]


@dataclass(frozen=True)
class RouteParams(LayerParams):
    """[route] as `parse_route` reads it: the input layers (absolute), the group_id-th
    of `groups` channel slices taken from each, and each input's channel count."""

    sources: tuple[int, ...]
    groups: int
    group_id: int
    channels: tuple[int, ...]


@register
class Route(LayerType):
    name = "route"
    known_keys = frozenset({"stream", "wait_stream"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        sources = route_layer_indices(ctx, "layers")
        groups = positive(s, "groups", s.int("groups", 1))
        group_id = s.int("group_id", 0)
        if not 0 <= group_id < groups:
            raise LayerProblem(f"[route] group_id={group_id} must be in 0..{groups - 1}",
                               s.line_of("group_id"))
        shapes = [as_chw(ctx.output_of(i)) for i in sources]
        _, h, w = shapes[0]
        for index, shape in zip(sources[1:], shapes[1:]):
            if shape[1:] != (h, w):
                raise LayerProblem(
                    f"[route] layer {index} is {shape[2]}x{shape[1]} but layer {sources[0]} "
                    f"is {w}x{h}: routed layers must have the same width and height",
                    s.line_of("layers"))
        for index, shape in zip(sources, shapes):
            if shape[0] % groups:
                raise LayerProblem(
                    f"[route] groups={groups} does not divide the {shape[0]} channels of "
                    f"layer {index}", s.line_of("groups"))
        channels = sum(shape[0] // groups for shape in shapes)
        text = ",".join(str(i) for i in sources)
        if groups > 1:
            text += f" ({group_id + 1}/{groups})"
        params = RouteParams(sources=tuple(sources), groups=groups, group_id=group_id,
                             channels=tuple(shape[0] for shape in shapes))
        return Built((channels, h, w), params, inputs=tuple(sources), summary=text)


