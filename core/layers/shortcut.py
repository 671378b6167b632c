"""[shortcut]: Darknet's `parse_shortcut` (src/parser.c), `make_shortcut_layer`
(src/shortcut_layer.c) and `shortcut_multilayer_cpu` (src/blas.c)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from darknet_inspector.core.activations import Activate
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    DarknetModule,
    Layer,
    LayerParams,
    LayerProblem,
    LayerType,
    TensorSpec,
    as_chw,
    empty_parameter,
)
from darknet_inspector.core.layers.convolutional import darknet_activation
from darknet_inspector.core.layers.flops import darknet_shortcut_bflops
from darknet_inspector.core.layers.registry import register
from darknet_inspector.core.layers.route import route_layer_indices

WEIGHTS_TYPES = {"none": None, "per_feature": "per_feature", "per_layer": "per_feature",
                 "per_channel": "per_channel"}
NORMALIZATIONS = {"none": None, "relu": "relu", "avg_relu": "relu", "softmax": "softmax"}


def shortcut_weight_count(weights_type: str | None, inputs: int, channels: int) -> int:
    """`make_shortcut_layer`: per_feature stores n+1 weights, per_channel (n+1)*c."""
    if weights_type == "per_feature":
        return inputs
    if weights_type == "per_channel":
        return inputs * channels
    return 0


@dataclass(frozen=True)
class ShortcutParams(LayerParams):
    """[shortcut] as `parse_shortcut` reads it: the `from=` layers (absolute) and their
    sizes, the mixing weights' kind and normalisation (None: none), the activation."""

    sources: tuple[int, ...]
    sizes: tuple[int, ...]
    weights_type: str | None
    normalization: str | None
    activation: str
    channels: int


@register
class Shortcut(LayerType):
    name = "shortcut"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        shape = ctx.require_input()
        sources = route_layer_indices(ctx, "from")
        sizes = []
        for index in sources:
            other = ctx.output_of(index)
            sizes.append(_count(other))
            if other != shape:
                ctx.warn(f"[shortcut] adds layer {index} ({_fmt(other)}) to {_fmt(shape)}: "
                         "Darknet adds them element by element over the smaller size",
                         s.line_of("from"))
        kind = s.str("weights_type", "none")
        if kind not in WEIGHTS_TYPES:
            raise LayerProblem(f"[shortcut] weights_type={kind}: use none, per_feature or "
                               "per_channel", s.line_of("weights_type"))
        norm = s.str("weights_normalization", "none")
        if norm not in NORMALIZATIONS:
            raise LayerProblem(f"[shortcut] weights_normalization={norm}: use none, relu or "
                               "softmax", s.line_of("weights_normalization"))
        weights_type = WEIGHTS_TYPES[kind]
        channels = shape[0]
        count = shortcut_weight_count(weights_type, len(sources) + 1, channels)
        weights = []
        if weights_type == "per_feature":
            weights = [TensorSpec("weights", (len(sources) + 1,))]
        elif weights_type == "per_channel":
            weights = [TensorSpec("weights", (len(sources) + 1, channels))]
        activation = darknet_activation(ctx, "linear")
        params = ShortcutParams(sources=tuple(sources), sizes=tuple(sizes),
                                weights_type=weights_type,
                                normalization=NORMALIZATIONS[norm] if count else None,
                                activation=activation, channels=channels)
        summary = ",".join(str(i) for i in sources) + f" {activation}"
        if weights_type:
            summary += f" w:{weights_type}"
        return Built(shape, params, weights, inputs=(ctx.index - 1, *sources), summary=summary)

    def module(self, layer: Layer) -> nn.Module:
        return ShortcutModule(layer)

    def bflops(self, layer: Layer) -> float:
        p = layer.params_as(ShortcutParams)
        c, h, w = as_chw(layer.output_shape or (0,))
        return darknet_shortcut_bflops(c, h, w, len(p.sources), p.weights_type is not None)


def _count(shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _fmt(shape) -> str:
    return "x".join(str(d) for d in shape)


class ShortcutModule(DarknetModule):
    keeps_layout = True

    def __init__(self, layer: Layer):
        super().__init__()
        p = layer.params_as(ShortcutParams)
        self.weights_type = p.weights_type
        self.normalization = p.normalization
        self.out_shape = layer.output_shape
        self.act = Activate(p.activation)
        if self.weights_type:
            self.weights = empty_parameter(*layer.weights[0].shape)

    def _mixing_weights(self) -> Tensor:
        """One weight per input (rows) [per channel]: normalised as Darknet's inference
        path does it (`fuse_conv_batchnorm`, see `inference_relu_normalization`)."""
        w = self.weights if self.weights.dim() == 2 else self.weights.view(-1, 1)
        if self.normalization == "relu":
            w = inference_relu_normalization(w)
            w = w / (w.sum(dim=0, keepdim=True) + 0.0001)
        elif self.normalization == "softmax":
            e = torch.exp(w - w.amax(dim=0, keepdim=True))
            w = e / (e.sum(dim=0, keepdim=True) + 0.0001)
        return w

    def forward(self, x: Tensor, *others: Tensor) -> Tensor:
        weights = self._mixing_weights() if self.weights_type else None
        out = x if weights is None else x * _weight_per_output_channel(weights[0], x)
        for i, other in enumerate(others, start=1):
            add = _aligned_to(other, x)
            if weights is not None:
                add = add * _weight_per_output_channel(weights[i], x)
            out = out + add
        return self.act(out)


def inference_relu_normalization(w: Tensor) -> Tensor:
    """`fuse_conv_batchnorm` (src/network.c), which every Darknet inference path calls
    (`detector test`, `demo`, `valid`, `network_predict` users), pre-normalizes
    relu-normalized shortcut weights with its `lrelu(w) = max(w, 0.001)`, not the
    training forward's relu (`shortcut_multilayer_cpu`, src/blas.c): a negative weight
    keeps 0.001, not 0. hank-ai's Darknet does the same."""
    return w.clamp(min=0.001)


def _weight_per_output_channel(w: Tensor, x: Tensor) -> Tensor:
    """A scalar (per_feature) or one weight per output channel (per_channel)."""
    if w.numel() == 1:
        return w.reshape(())
    return w.view((1, -1) + (1,) * (x.dim() - 2))


def _aligned_to(add: Tensor, out: Tensor) -> Tensor:
    """Darknet adds flat element i of `add` to flat element i of the output for every i
    below both sizes (`shortcut_multilayer_cpu`): crop or zero-pad `add` in flat order."""
    if add.shape == out.shape:
        return add
    flat = add.reshape(add.shape[0], -1)
    size = out[0].numel()
    if flat.shape[1] >= size:
        flat = flat[:, :size]
    else:
        flat = torch.nn.functional.pad(flat, (0, size - flat.shape[1]))
    return flat.reshape(out.shape)
