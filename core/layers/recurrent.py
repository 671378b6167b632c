"""The recurrent family: [rnn], [gru], [lstm] (nested [connected] layers), [crnn] and
[conv_lstm] (nested [convolutional] layers) and [history]. Darknet's `parse_*`
(src/parser.c), `make_*_layer` (src/rnn_layer.c, src/gru_layer.c, src/lstm_layer.c,
src/crnn_layer.c, src/conv_lstm_layer.c) and the nested loads in `load_weights_upto`.

All run as Darknet's inference does (core.torch_layers.recurrent_run): one time step from the
zero state a freshly loaded network holds. [conv_lstm] with `bottleneck=1` runs as Darknet's
GPU forward computes it, the only build that implements it (`conv_lstm_bottleneck_gpu_only`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from darknet_inspector.core.activations import activation_or_default, is_known_activation
from darknet_inspector.core.layers.activation import plain_activation
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    TensorSpec,
    positive,
)
from darknet_inspector.core.layers.connected import (
    TransposedConnectedWeights,
    connected_weight_layout,
)
from darknet_inspector.core.layers.convolutional import (
    conv_weight_layout,
    darknet_activation,
    darknet_conv_out_size,
    darknet_conv_padding,
)
from darknet_inspector.core.layers.flops import (
    darknet_conv_bflops,
    darknet_conv_lstm_bflops,
    darknet_float_sum,
)
from darknet_inspector.core.layers.registry import register

RNN_LAYERS = ("input_layer", "self_layer", "output_layer")
GRU_LAYERS = ("input_z_layer", "input_r_layer", "input_h_layer",
              "state_z_layer", "state_r_layer", "state_h_layer")
LSTM_LAYERS = ("wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo")


def nested_connected(names: tuple[str, ...], sizes: dict[str, tuple[int, int]],
                     batch_normalize: bool) -> list[TensorSpec]:
    """Each nested [connected] in load order, its tensors named `<layer>.<tensor>`."""
    specs: list[TensorSpec] = []
    for name in names:
        inputs, outputs = sizes[name]
        specs += connected_weight_layout(name + ".", inputs, outputs, batch_normalize)
    return specs


def nested_conv(name: str, filters: int, channels: int, groups: int, size: int,
                batch_normalize: bool) -> list[TensorSpec]:
    """A nested [convolutional] (`load_convolutional_weights`, no `dontloadscales`)."""
    return conv_weight_layout(name + ".", filters, channels // groups, size, batch_normalize)


@dataclass(frozen=True)
class RnnParams(LayerParams):
    """[rnn] as `parse_rnn` reads it."""

    inputs: int
    hidden: int
    output: int
    activation: str
    batch_normalize: bool
    logistic: int
    zeroes: bool = False
    shortcut: bool = False


@dataclass(frozen=True)
class RecurrentParams(LayerParams):
    """[gru] and [lstm] as `parse_gru` / `parse_lstm` read them."""

    inputs: int
    output: int
    batch_normalize: bool


@dataclass(frozen=True)
class RecurrentConvGeometry:
    """What `parse_crnn` and `parse_conv_lstm` share: the input, the nested convs'
    window, stride, groups, padding and output size, `batch_normalize`, `xnor`."""

    c: int
    h: int
    w: int
    size: int
    stride: int
    groups: int
    padding: int
    out_h: int
    out_w: int
    batch_normalize: bool
    xnor: bool
    dilation: int = 1


@dataclass(frozen=True)
class CrnnParams(LayerParams):
    geometry: RecurrentConvGeometry
    hidden: int
    output: int
    activation: str
    shortcut: bool = False


@dataclass(frozen=True)
class ConvLstmParams(LayerParams):
    geometry: RecurrentConvGeometry
    output: int
    activation: str
    peephole: bool
    bottleneck: bool
    lstm_activation: str = "tanh"
    shortcut: bool = False
    refusal: str | None = None  # why it is not run: Darknet's numbers are undefined


@dataclass(frozen=True)
class HistoryParams(LayerParams):
    history_size: int


@register
class Rnn(TransposedConnectedWeights, LayerType):
    name = "rnn"
    known_keys = frozenset({"shortcut"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        output = positive(s, "output", s.int("output", 1))
        hidden = positive(s, "hidden", s.int("hidden", 1))
        activation, zeroes = plain_activation(ctx, "logistic")
        bn = bool(s.int("batch_normalize", 0))
        log = s.int("logistic", 0)
        sizes = dict(input_layer=(inputs, hidden), self_layer=(hidden, hidden),
                     output_layer=(hidden, output))
        params = RnnParams(inputs=inputs, hidden=hidden, output=output, activation=activation,
                           batch_normalize=bn, logistic=log, zeroes=zeroes,
                           shortcut=bool(s.int("shortcut", 0)))
        return Built((output,), params, nested_connected(RNN_LAYERS, sizes, bn),
                     summary=f"{inputs} -> {hidden} -> {output}")


@register
class Gru(TransposedConnectedWeights, LayerType):
    name = "gru"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        output = positive(s, "output", s.int("output", 1))
        bn = bool(s.int("batch_normalize", 0))
        sizes = {name: ((inputs if name.startswith("input") else output), output)
                 for name in GRU_LAYERS}
        return Built((output,), RecurrentParams(inputs, output, bn),
                     nested_connected(GRU_LAYERS, sizes, bn), summary=f"{inputs} -> {output}")


@register
class Lstm(TransposedConnectedWeights, LayerType):
    name = "lstm"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        output = positive(s, "output", s.int("output", 1))
        bn = bool(s.int("batch_normalize", 0))
        sizes = {name: ((output if name.startswith("w") else inputs), output)
                 for name in LSTM_LAYERS}
        return Built((output,), RecurrentParams(inputs, output, bn),
                     nested_connected(LSTM_LAYERS, sizes, bn), summary=f"{inputs} -> {output}")


def recurrent_conv_geometry(ctx: BuildContext) -> RecurrentConvGeometry:
    """Options `parse_crnn` and `parse_conv_lstm` share: size 3, stride 1, padding
    (size/2 with pad=1), groups, dilation; and the nested convs' output size."""
    s = ctx.section
    c, h, w = ctx.require_chw()
    size = positive(s, "size", s.int("size", 3))
    stride = positive(s, "stride", s.int("stride", 1))
    groups = positive(s, "groups", s.int("groups", 1))
    padding = darknet_conv_padding(s.int("pad", 0), s.int("padding", 0), size)
    out_h = darknet_conv_out_size(h, padding, size, stride)
    out_w = darknet_conv_out_size(w, padding, size, stride)
    if out_h < 1 or out_w < 1:
        raise LayerProblem(f"[{s.name}] a {size}x{size} kernel does not fit the {w}x{h} "
                           "input", s.line_of("size"))
    return RecurrentConvGeometry(c=c, h=h, w=w, size=size, stride=stride, groups=groups,
                                 padding=padding, out_h=out_h, out_w=out_w,
                                 batch_normalize=bool(s.int("batch_normalize", 0)),
                                 xnor=bool(s.int("xnor", 0)),
                                 dilation=positive(s, "dilation", s.int("dilation", 1)))


def inner_conv_bflops(g: RecurrentConvGeometry, channels: int, filters: int) -> float:
    """One inner [convolutional] of [crnn]/[conv_lstm]: Darknet makes each over the
    layer's input height and width (`make_crnn_layer`, `make_conv_lstm_layer`)."""
    return darknet_conv_bflops(channels, filters, g.groups, g.size, g.out_h, g.out_w, g.xnor)


@register
class Crnn(LayerType):
    name = "crnn"
    known_keys = frozenset({"shortcut", "dilation"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        g = recurrent_conv_geometry(ctx)
        output = positive(s, "output", s.int("output", 1))
        hidden = positive(s, "hidden", s.int("hidden", 1))
        activation = darknet_activation(ctx, "logistic")
        if (g.out_h, g.out_w) != (g.h, g.w):
            raise LayerProblem(
                f"[crnn] its convolutions turn {g.w}x{g.h} into {g.out_w}x{g.out_h}, but the "
                "hidden state must keep the input size (Darknet asserts it): use stride=1 "
                "and pad=1", s.line_of("size"))
        bn, groups, size = g.batch_normalize, g.groups, g.size
        weights = (nested_conv("input_layer", hidden, g.c, groups, size, bn)
                   + nested_conv("self_layer", hidden, hidden, groups, size, bn)
                   + nested_conv("output_layer", output, hidden, groups, size, bn))
        params = CrnnParams(g, hidden=hidden, output=output, activation=activation,
                            shortcut=bool(s.int("shortcut", 0)))
        return Built((output, g.out_h, g.out_w), params, weights,
                     summary=f"{hidden} -> {output} {size}x{size}")

    def bflops(self, layer: Layer) -> float:
        """`make_crnn_layer`: input + self + output layers' bflops, a float sum."""
        p = layer.params_as(CrnnParams)
        g = p.geometry
        return darknet_float_sum([inner_conv_bflops(g, g.c, p.hidden),
                                  inner_conv_bflops(g, p.hidden, p.hidden),
                                  inner_conv_bflops(g, p.hidden, p.output)])


def conv_lstm_load_order(peephole: bool, bottleneck: bool) -> list[str]:
    """`load_weights_upto` for CONV_LSTM: vf, vi, vo when peephole; wf; wi, wg, wo unless
    bottleneck; then uf, ui, ug, uo."""
    order = ["vf", "vi", "vo"] if peephole else []
    order.append("wf")
    if not bottleneck:
        order += ["wi", "wg", "wo"]
    return order + ["uf", "ui", "ug", "uo"]


def conv_lstm_conv_channels(name: str, channels: int, output: int, bottleneck: bool) -> int:
    """Input channels of the nested conv `name` (`make_conv_lstm_layer`): uf, ui, ug, uo
    take the layer's input; wf takes 2*output with bottleneck (h beside the input); wf, wi,
    wg, wo and the peephole vf, vi, vo otherwise take output (h or c)."""
    if name.startswith("u"):
        return channels
    return 2 * output if name == "wf" and bottleneck else output


def conv_lstm_bottleneck_gpu_only(ctx: BuildContext) -> None:
    """`bottleneck=1` exists only in `forward_conv_lstm_layer_gpu` (src/conv_lstm_layer.c;
    AlexeyAB's, and hank-ai's identical copy up to v3.0 -- hank-ai dropped [conv_lstm] in
    v3.1). We follow AlexeyAB's: wf, made over 2*output channels, runs on h beside the
    input, then `lstm_activation`; uf, ui, ug, uo run on that, not on the input; wi, wg, wo
    are never made (`make_conv_lstm_layer` only `calloc`s them). The CPU
    `forward_conv_lstm_layer` has no bottleneck path: it fails
    `assert(wf.c == l.out_c && wi.c == l.out_c ...)` (the Makefile build keeps asserts);
    built with NDEBUG (CMake's Release) it runs wf on h alone, reading past h's buffer,
    then the zeroed wi, whose `convolutional_out_height` divides by its stride 0 (SIGFPE).
    So we compute the GPU's formula and say what the CPU build does."""
    ctx.warn("[conv_lstm] bottleneck=1: computed as Darknet's GPU build runs it (wf over h "
             "beside the input, then uf, ui, ug, uo over wf's output); Darknet's CPU build "
             "cannot run it: its forward has no bottleneck path and fails "
             "assert(wf.c == l.out_c), or, built without asserts, reads past h and dies "
             "dividing by zero in the wi layer that bottleneck never makes",
             ctx.section.line_of("bottleneck"))


def conv_lstm_refusal(ctx: BuildContext, message: str, line: int) -> str:
    """Report `message` as an error at `line`; the refusal a run of the layer gives."""
    ctx.error(message, line)
    return f"layer {ctx.index} (cfg line {line}): {message}"


def conv_lstm_state_misread(ctx: BuildContext, g: RecurrentConvGeometry) -> str | None:
    """`make_conv_lstm_layer` makes every nested conv over the layer's input height and
    width, also wf..wo and vf..vo, which `forward_conv_lstm_layer(_gpu)` runs on h and c,
    buffers of the output's size: when the convs change the size Darknet reads the state
    as a map of the input's size (past its end when it shrinks) and asserts nothing.
    Returns the refusal (the error is reported) or None."""
    if (g.out_h, g.out_w) == (g.h, g.w):
        return None
    message = (f"[conv_lstm] its convolutions turn {g.w}x{g.h} into {g.out_w}x{g.out_h}, but "
               f"Darknet runs the state convolutions (made for {g.w}x{g.h}) on the "
               f"{g.out_w}x{g.out_h} hidden state and cell, reading them as {g.w}x{g.h} maps: "
               "its output is undefined; use stride=1 and pad=1")
    return conv_lstm_refusal(ctx, message, ctx.section.line_of("size"))


def conv_lstm_bottleneck_overread(ctx: BuildContext, g: RecurrentConvGeometry,
                                  output: int) -> str | None:
    """`forward_conv_lstm_layer_gpu` with bottleneck copies `l.outputs` floats of h, then
    `l.outputs` floats of the input (`bottelneck_hi_gpu`), and runs uf, ui, ug, uo (made
    for the input's channels) on wf's output (output channels): unless the input has
    output= channels it reads past the input or past wf's output. Returns the refusal (the
    error is reported) or None."""
    if g.c == output:
        return None
    message = (f"[conv_lstm] bottleneck=1 needs an input of output={output} channels, not "
               f"{g.c}: Darknet's GPU forward puts {output} channels of the input beside h "
               f"and runs uf, ui, ug, uo (made for {g.c} channels) on wf's {output}, reading "
               "past its buffers, so its output is undefined")
    return conv_lstm_refusal(ctx, message, ctx.section.line_of("bottleneck"))


@register
class ConvLstm(LayerType):
    name = "conv_lstm"
    known_keys = frozenset({"state_constrain", "shortcut", "lstm_activation",
                            "time_normalizer", "dilation"})

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        g = recurrent_conv_geometry(ctx)
        output = positive(s, "output", s.int("output", 1))
        activation = darknet_activation(ctx, "linear")
        peephole = bool(s.int("peephole", 0))
        bottleneck = bool(s.int("bottleneck", 0))
        weights: list[TensorSpec] = []
        for name in conv_lstm_load_order(peephole, bottleneck):
            channels = conv_lstm_conv_channels(name, g.c, output, bottleneck)
            weights += nested_conv(name, output, channels, g.groups, g.size, g.batch_normalize)
        refusal = conv_lstm_state_misread(ctx, g)
        if bottleneck:
            refusal = refusal or conv_lstm_bottleneck_overread(ctx, g, output)
            if refusal is None:
                conv_lstm_bottleneck_gpu_only(ctx)
        lstm_activation = conv_lstm_activation(ctx)
        params = ConvLstmParams(g, output=output, activation=activation, peephole=peephole,
                                bottleneck=bottleneck, lstm_activation=lstm_activation,
                                shortcut=bool(s.int("shortcut", 0)), refusal=refusal)
        summary = (f"{output} {g.size}x{g.size}" + (" peephole" if peephole else "")
                   + (" bottleneck" if bottleneck else ""))
        return Built((output, g.out_h, g.out_w), params, weights, runnable=refusal is None,
                     summary=summary)

    def bflops(self, layer: Layer) -> float:
        """uf ui ug uo (input -> output), wf (2*output with bottleneck), wi wg wo (none
        with bottleneck), vf vi vo (peephole only), in `make_conv_lstm_layer`'s order."""
        p = layer.params_as(ConvLstmParams)
        g, out = p.geometry, p.output
        inner = [inner_conv_bflops(g, g.c, out)] * 4
        inner.append(inner_conv_bflops(g, 2 * out if p.bottleneck else out, out))
        inner += [0.0 if p.bottleneck else inner_conv_bflops(g, out, out)] * 3
        inner += [inner_conv_bflops(g, out, out) if p.peephole else 0.0] * 3
        return darknet_conv_lstm_bflops(inner, out * g.out_h * g.out_w, p.peephole)


def conv_lstm_activation(ctx: BuildContext) -> str:
    """`parse_conv_lstm`'s `lstm_activation` (tanh by default): the GPU forward applies it
    to g and to c for the output; AlexeyAB's CPU forward always uses tanh there. We
    follow the cfg, and say so when the builds differ."""
    s = ctx.section
    name = s.str("lstm_activation", "tanh")
    if not is_known_activation(name):
        ctx.warn(f"unknown lstm_activation={name}; Darknet replaces it with relu",
                 s.line_of("lstm_activation"))
    name = activation_or_default(name)
    if name != "tanh":
        ctx.warn(f"[conv_lstm] lstm_activation={name}: computed here as the cfg asks, "
                 f"{conv_lstm_gpu_activation_note(name)}; AlexeyAB's CPU forward uses tanh "
                 "there", s.line_of("lstm_activation"))
    return name


def conv_lstm_gpu_activation_note(name: str) -> str:
    """`forward_conv_lstm_layer_gpu` takes g through `add_3_arrays_activate` and the output
    through `activate_and_mult` (src/blas_kernels.cu, the same in hank-ai's v3.0): the
    latter accepts only tanh, leaky and linear and stops Darknet with an error otherwise."""
    if name in ("leaky", "linear"):
        return "as Darknet's GPU build does"
    return ("which Darknet's GPU build refuses (its fused kernels stop with an error unless "
            "it is tanh, leaky or linear)")


@register
class History(LayerType):
    name = "history"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        size = positive(s, "history_size", s.int("history_size", 4))
        return Built((c * size, h, w), HistoryParams(size), summary=f"x{size}")


