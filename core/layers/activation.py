"""[activation]: Darknet's `parse_activation` (src/parser.c) and
`forward_activation_layer` (src/activation_layer.c), plus the activation rule shared by
every layer whose forward pass calls the plain `activate_array` (src/activations.c)."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerType,
)
from darknet_inspector.core.layers.convolutional import darknet_activation
from darknet_inspector.core.layers.registry import register

ACTIVATE_ARRAY_GIVES_ZERO = frozenset({
    "swish", "mish", "hard_mish", "normalize_channels",
    "normalize_channels_softmax", "normalize_channels_softmax_maxval",
})
"""Activations the plain `activate` of every Darknet build returns 0 for. relu6 is not
here: AlexeyAB's GPU kernels and hank-ai's `activate` compute it (`relu6_cpu_warning`)."""


def relu6_cpu_warning(layers: list[Layer]) -> list[Diagnostic]:
    """One warning for the cfg listing every layer with activation=relu6, which we compute
    (clamp to [0, 6]) as AlexeyAB's GPU kernels (`activate_array_ongpu`) and hank-ai's
    `activate` (src-lib/activations.cpp) do: AlexeyAB's CPU `activate` (src/activations.c)
    has no RELU6 case and returns 0, in every layer type (`activate_array_cpu_custom`,
    src/gemm.c, ends in `activate` too)."""
    found = [layer for layer in layers if getattr(layer.params, "activation", None) == "relu6"]
    if not found:
        return []
    lines = ", ".join(str(layer.section.line_of("activation")) for layer in found)
    where = "line" if len(found) == 1 else "lines"
    message = (f"activation=relu6 on {where} {lines}: computed here as min(max(x, 0), 6), as "
               "hank-ai's Darknet and AlexeyAB's GPU build do; AlexeyAB's CPU build has no "
               "relu6 and outputs 0 there")
    first = found[0]
    return [Diagnostic("warning", message, first.index, first.section.line_of("activation"))]


def plain_activation(ctx: BuildContext, default: str) -> tuple[str, bool]:
    """The layer's activation and whether Darknet zeroes its output instead.

    `activate_array` (src/activations.c) special-cases linear, leaky and logistic and
    sends everything else to `activate`, whose switch has no case for swish, mish,
    hard_mish or normalize_channels* (nor relu6 in AlexeyAB's CPU build, see
    `relu6_cpu_warning`): it returns 0. Only [convolutional] and [shortcut]
    route those through dedicated functions, so any other layer outputs zeros."""
    name = darknet_activation(ctx, default)
    zeroes = name in ACTIVATE_ARRAY_GIVES_ZERO
    if zeroes:
        s = ctx.section
        ctx.warn(f"[{s.name}] activation={name} on line {s.line_of('activation')}: Darknet's "
                 f"activate_array has no {name} outside [convolutional] and [shortcut], so "
                 "this layer outputs 0 everywhere in Darknet (and here); use linear, leaky, "
                 "logistic, relu, tanh or another plain activation", s.line_of("activation"))
    return name, zeroes


@dataclass(frozen=True)
class ActivationParams(LayerParams):
    """An activation run through the plain `activate_array`; `zeroes`: it gives 0 there."""

    activation: str
    zeroes: bool


@register
class Activation(LayerType):
    name = "activation"

    def build(self, ctx: BuildContext) -> Built:
        shape = ctx.require_input()
        activation, zeroes = plain_activation(ctx, "linear")
        return Built(shape, ActivationParams(activation, zeroes), summary=activation)


