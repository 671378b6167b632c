"""[convolutional] (alias [conv]): Darknet's `parse_convolutional` (src/parser.c) and
`forward_convolutional_layer` (src/convolutional_layer.c)."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.activations import activation_or_default, is_known_activation
from darknet_inspector.core.layers.antialias import darknet_blur_size_and_pad
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    TensorSpec,
    as_chw,
    positive,
)
from darknet_inspector.core.layers.flops import darknet_conv_bflops
from darknet_inspector.core.layers.registry import register

BN_EPSILON = 0.00001
SHARE_NONE = -1000000000


def darknet_conv_out_size(size_in: int, padding: int, kernel: int, stride: int) -> int:
    """`convolutional_out_height/width` (src/convolutional_layer.c): dilation is ignored."""
    return (size_in + 2 * padding - kernel) // stride + 1


def dilated_im2col_size(size_in: int, padding: int, kernel: int, stride: int,
                        dilation: int) -> int:
    """What `im2col_cpu_ext` (src/im2col.c) lays out: Darknet pads `padding * dilation`
    and fits the dilated kernel. The gemm then reads the undilated output size's columns,
    so the two must agree for the result to mean anything."""
    return (size_in + 2 * padding * dilation - (dilation * (kernel - 1) + 1)) // stride + 1


def darknet_conv_padding(pad: int, padding: int, size: int) -> int:
    """`pad=1` means size/2 and overrides `padding=` (`parse_convolutional`)."""
    return size // 2 if pad else padding


def darknet_strides(section, ctx_key: str = "stride") -> tuple[int, int]:
    """stride_x/stride_y win over stride when both are >= 1 (`parse_convolutional`)."""
    stride_x = section.int("stride_x", -1)
    stride_y = section.int("stride_y", -1)
    stride = section.int(ctx_key, 1)
    if stride_x < 1:
        stride_x = stride
    if stride_y < 1:
        stride_y = stride
    return stride_x, stride_y


def darknet_activation(ctx: BuildContext, default: str) -> str:
    """`get_activation` (src/activations.c): an unknown name becomes ReLU, loudly here."""
    name = ctx.section.str("activation", default)
    if not is_known_activation(name):
        ctx.warn(f"unknown activation={name} on line {ctx.section.line_of('activation')}; "
                 "Darknet replaces it with relu", ctx.section.line_of("activation"))
    return activation_or_default(name)


def shared_weights_mismatch(ctx: BuildContext, share_from: int, n: int, c: int, groups: int,
                            size: int) -> None:
    """`make_convolutional_layer` (src/convolutional_layer.c) stops with "Layer size,
    nweights, channels or filters don't match for the share_layer" unless the shared
    layer has the same size, input channels, filters and weight count (so groups)."""
    other = ctx.layers[share_from].params
    if not isinstance(other, ConvolutionalParams):
        return
    mine = (n, c, groups, size)
    theirs = (other.filters, other.in_channels, other.groups, other.size)
    if mine != theirs:
        def text(f: int, ch: int, g: int, k: int) -> str:
            return f"{f} filters, {ch} input channels, groups={g}, {k}x{k}"

        s = ctx.section
        raise LayerProblem(
            f"[{s.name}] share_index={s.raw('share_index')} reuses layer {share_from}'s "
            f"weights ({text(*theirs)}), but this layer has {text(*mine)}; Darknet stops "
            "with \"Layer size, nweights, channels or filters don't match for the "
            "share_layer\"", s.line_of("share_index"))


def antialiased_size(ctx: BuildContext, host: tuple[int, int], antialiasing: int,
                     stride_x: int, stride_y: int) -> tuple[int, int]:
    """The output the next layer reads from an `antialiasing` layer: the blur's
    (`make_convolutional_layer`; `parse_network_cfg_custom` passes `l.input_layer`'s size
    on). Layers that read it by index keep Darknet's host size `l.out_h x l.out_w`, whose
    first values are the blurred output: warned when the two differ."""
    blur, pad = darknet_blur_size_and_pad(antialiasing)
    out = (darknet_conv_out_size(host[0], pad, blur, stride_y),
           darknet_conv_out_size(host[1], pad, blur, stride_x))
    s = ctx.section
    if min(out) < 1:
        raise LayerProblem(f"[{s.name}] antialiasing={antialiasing}: its {blur}x{blur} blur "
                           f"does not fit the {host[0]}x{host[1]} output",
                           s.line_of("antialiasing"))
    if out != host:
        ctx.warn(f"antialiasing={antialiasing}: the next layer reads the blurred "
                 f"{out[0]}x{out[1]} output, but in Darknet a [route]/[shortcut] naming this "
                 f"layer sees its stride-1 size {host[0]}x{host[1]} (l.out_h x l.out_w), "
                 "the blurred values first; here every reader gets the blurred output",
                 s.line_of("antialiasing"))
    return out


def conv_weight_layout(prefix: str, n: int, c_per_group: int, size: int,
                       batch_normalize: bool, load_scales: bool = True) -> list[TensorSpec]:
    """`load_convolutional_weights` order: biases, [scales, mean, variance], weights."""
    specs = [TensorSpec(prefix + "biases", (n,))]
    if batch_normalize and load_scales:
        specs += [TensorSpec(prefix + "scales", (n,)),
                  TensorSpec(prefix + "rolling_mean", (n,)),
                  TensorSpec(prefix + "rolling_variance", (n,))]
    specs.append(TensorSpec(prefix + "weights", (n, c_per_group, size, size)))
    return specs


@dataclass(frozen=True)
class ConvolutionalParams(LayerParams):
    """[convolutional] as `parse_convolutional` reads it (padding already resolved by
    `darknet_conv_padding`; `share_from` the absolute layer of `share_index`)."""

    filters: int
    size: int
    stride_x: int
    stride_y: int
    dilation: int
    padding: int
    groups: int
    activation: str
    batch_normalize: bool
    share_from: int | None
    xnor: bool
    binary: bool
    flipped: bool
    in_channels: int
    antialiasing: int = 0


@register
class Convolutional(LayerType):
    name = "convolutional"
    known_keys = frozenset({
        "antialiasing", "assisted_excitation", "cbn", "bin_output", "sway", "rotate", "stretch",
        "stretch_sway", "flipped", "dot", "angle", "grad_centr", "reverse", "coordconv",
        "stream", "wait_stream",
    })

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        n = positive(s, "filters", s.int("filters", 1))
        size = positive(s, "size", s.int("size", 1))
        groups = positive(s, "groups", s.int("groups", 1))
        stride_x, stride_y = darknet_strides(s)
        positive(s, "stride", min(stride_x, stride_y))
        dilation = s.int("dilation", 1)
        if size == 1:
            dilation = 1
        positive(s, "dilation", dilation)
        padding = darknet_conv_padding(s.int("pad", 0), s.int("padding", 0), size)
        if padding < 0:
            raise LayerProblem(f"[{s.name}] padding={padding} must not be negative",
                               s.line_of("padding"))
        activation = darknet_activation(ctx, "logistic")
        batch_normalize = bool(s.int("batch_normalize", 0) or s.int("cbn", 0))
        if c % groups:
            raise LayerProblem(
                f"[{s.name}] groups={groups} does not divide the {c} input channels",
                s.line_of("groups"))
        if n % groups:
            raise LayerProblem(
                f"[{s.name}] groups={groups} does not divide filters={n}", s.line_of("groups"))
        antialiasing = s.int("antialiasing", 0)
        host_x, host_y = (1, 1) if antialiasing else (stride_x, stride_y)
        out_h = darknet_conv_out_size(h, padding, size, host_y)
        out_w = darknet_conv_out_size(w, padding, size, host_x)
        if out_h < 1 or out_w < 1:
            raise LayerProblem(
                f"[{s.name}] a {size}x{size} kernel with padding {padding} does not fit the "
                f"{h}x{w} input", s.line_of("size"))
        share = s.int("share_index", SHARE_NONE)
        share_from = None
        if share != SHARE_NONE:
            share_from = share if share >= 0 else ctx.index + share
            if not 0 <= share_from < ctx.index or ctx.layers[share_from].type != self.name:
                raise LayerProblem(
                    f"[{s.name}] share_index={share} must name an earlier [convolutional] "
                    "layer", s.line_of("share_index"))
            shared_weights_mismatch(ctx, share_from, n, c, groups, size)
        xnor = bool(s.int("xnor", 0))
        binary = bool(s.int("binary", 0))
        if xnor:
            ctx.warn("xnor=1: run as Darknet's float path (binarised weights and inputs, zero "
                     "padding); Darknet's bit-packed CPU path can differ at image borders",
                     s.line_of("xnor"))
        runnable = True
        if dilation > 1 and (dilated_im2col_size(h, padding, size, host_y, dilation),
                             dilated_im2col_size(w, padding, size, host_x, dilation)) \
                != (out_h, out_w):
            runnable = False
            ctx.warn(f"dilation={dilation} with a {size}x{size} kernel and padding {padding}: "
                     "Darknet's im2col lays out a different output size than the layer's, "
                     "so its result is scrambled; not run by this tool (use pad=1 with an odd "
                     "size)", s.line_of("dilation"))
        if antialiasing:
            out_h, out_w = antialiased_size(ctx, (out_h, out_w), antialiasing,
                                            stride_x, stride_y)
        weights = [] if share_from is not None else conv_weight_layout(
            "", n, c // groups, size, batch_normalize, not s.int("dontloadscales", 0))
        params = ConvolutionalParams(
            filters=n, size=size, stride_x=stride_x, stride_y=stride_y, dilation=dilation,
            padding=padding, groups=groups, activation=activation,
            batch_normalize=batch_normalize, share_from=share_from, xnor=xnor, binary=binary,
            flipped=bool(s.int("flipped", 0)), in_channels=c, antialiasing=antialiasing)
        stride_text = f"{stride_x}" if stride_x == stride_y else f"{stride_x}x{stride_y}"
        summary = f"{n} {size}x{size}/{stride_text}"
        if dilation > 1:
            summary += f" d{dilation}"
        if groups > 1:
            summary += f" g{groups}"
        summary += f" {activation}" + (" bn" if batch_normalize else "")
        if antialiasing:
            summary += f" aa{antialiasing}"
        return Built((n, out_h, out_w), params, weights, runnable=runnable, summary=summary)

    def bflops(self, layer: Layer) -> float:
        """`l.bflops`; with `antialiasing` the host conv runs at stride 1."""
        p = layer.params_as(ConvolutionalParams)
        _, h, w = as_chw(layer.input_shape or (0,))
        stride_x, stride_y = (1, 1) if layer.section.int("antialiasing", 0) else (
            p.stride_x, p.stride_y)
        return darknet_conv_bflops(
            p.in_channels, p.filters, p.groups, p.size,
            darknet_conv_out_size(h, p.padding, p.size, stride_y),
            darknet_conv_out_size(w, p.padding, p.size, stride_x), p.xnor)

    def workspace_bytes(self, layer: Layer) -> int:
        """A dilated conv runs on a zero-padded copy of its input (`ConvModule._dilated`):
        padding*dilation before, whatever the dilated kernel reaches after."""
        p = layer.params_as(ConvolutionalParams)
        if p.dilation == 1 or layer.input_shape is None or layer.output_shape is None:
            return 0
        channels = as_chw(layer.input_shape)[0]
        reach = p.dilation * (p.size - 1) + 1
        out_h, out_w = layer.output_shape[1:]
        return 4 * channels * ((out_h - 1) * p.stride_y + reach) * (
            (out_w - 1) * p.stride_x + reach)

    def stored_to_natural(self, layer, name, values, transposed):
        """`flipped=1` stores weights transposed (`load_convolutional_weights`)."""
        p = layer.params_as(ConvolutionalParams)
        if name == "weights" and p.flipped:
            return values.reshape(-1, p.filters).T.reshape(values.shape)
        return values

    def natural_to_stored(self, layer, name, values, transposed):
        p = layer.params_as(ConvolutionalParams)
        if name == "weights" and p.flipped:
            return values.reshape(p.filters, -1).T.reshape(values.shape)
        return values


