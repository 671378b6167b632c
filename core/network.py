"""cfg sections -> Network: layers with shapes and weight layout, plus diagnostics."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from darknet_inspector.core.cfg import Cfg, CfgError, Section, read_cfg, text_value_comment_warning
from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.layers import is_head, layer_type
from darknet_inspector.core.layers.activation import relu6_cpu_warning
from darknet_inspector.core.layers.base import (
    COMMON_KEYS,
    BuildContext,
    Layer,
    LayerProblem,
    NetOptions,
    Shape,
    UnknownInput,
)
from darknet_inspector.core.layers.flops import darknet_total_bflops
from darknet_inspector.core.memory import memory_diagnostics

NET_KEYS = frozenset({
    "max_batches", "batch", "learning_rate", "learning_rate_min", "sgdr_cycle", "sgdr_mult",
    "momentum", "decay", "subdivisions", "time_steps", "track", "augment_speed",
    "sequential_subdivisions", "try_fix_nan", "weights_reject_freq", "equidistant_point",
    "badlabels_rejection_percentage", "num_sigmas_reject_badlabels", "ema_alpha",
    "use_cuda_graph", "loss_scale", "dynamic_minibatch", "optimized_memory",
    "workspace_size_limit_MB", "adam", "B1", "B2", "eps", "height", "width", "channels",
    "inputs", "max_crop", "min_crop", "flip", "blur", "gaussian_noise", "mixup", "cutmix",
    "mosaic", "letter_box", "mosaic_bound", "contrastive", "contrastive_jit_flip",
    "contrastive_color", "unsupervised", "label_smooth_eps", "resize_step", "attention",
    "adversarial_lr", "max_chart_loss", "angle", "aspect", "saturation", "exposure", "hue",
    "power", "policy", "burn_in", "step", "scale", "steps", "scales", "seq_scales", "gamma",
    "show_receptive_field",
})
"""Every key Darknet reads from `[net]`: `parse_net_options` plus `show_receptive_field`
in `parse_network_cfg_custom` (src/parser.c). Keys read only under some `policy=` or
`adam=1` count as known; Darknet itself never reports unused `[net]` keys."""


@dataclass
class Network:
    cfg: Cfg
    net: NetOptions
    layers: list[Layer]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tree: DarknetTree | None = None  # the tree file given for `tree=` layers

    @property
    def path(self) -> str:
        return self.cfg.path

    @property
    def input_shape(self) -> Shape:
        return self.net.input_shape

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def heads(self) -> list[int]:
        """Indices of detection heads; a classifier's head is its last layer."""
        found = [layer.index for layer in self.layers if is_head(layer.type)]
        return found or ([len(self.layers) - 1] if self.layers else [])

    @property
    def tree_layers(self) -> list[Layer]:
        """Layers whose cfg names a tree file (`tree=`, YOLO9000): they run only with the
        tree file the user gives (`tree`), never the path written in the cfg."""
        return [layer for layer in self.layers if getattr(layer.params, "tree", None)]

    @property
    def param_count(self) -> int:
        return sum(layer.param_count for layer in self.layers)

    @property
    def complete(self) -> bool:
        """Every layer's shape (and so the whole weight layout) is known."""
        return all(layer.known for layer in self.layers)

    @property
    def runnable(self) -> bool:
        return self.complete and all(layer.runnable for layer in self.layers)

    def weight_bytes(self) -> int:
        return sum(layer.weight_bytes for layer in self.layers)

    @property
    def bflops(self) -> float:
        """Darknet's "Total BFLOPS" for this network (core.layers.flops)."""
        return darknet_total_bflops(layer_bflops(layer) for layer in self.layers)


def last_uses(network: Network) -> list[int]:
    """For each layer, the index of the last layer that reads its output."""
    last = [layer.index for layer in network.layers]
    for layer in network.layers:
        for source in layer.inputs:
            if source >= 0:
                last[source] = max(last[source], layer.index)
    return last


def layer_bflops(layer: Layer) -> float:
    """Darknet's `l.bflops` of one layer, answered by its type; 0 for a layer not built."""
    kind = layer_type(layer.type)
    return kind.bflops(layer) if kind is not None and layer.known else 0.0


def parse_net_options(section: Section, width: int | None, height: int | None) -> NetOptions:
    """Input geometry from `[net]`, as `parse_net_options` (src/parser.c) reads it."""
    h = section.int("height", 0) or 0
    w = section.int("width", 0) or 0
    c = section.int("channels", 0) or 0
    if width is not None:
        w = width
    if height is not None:
        h = height
    inputs = section.int("inputs", h * w * c) or 0
    if not inputs and not (h and w and c):
        raise CfgError("[net] gives no input size: set width=, height= and channels=",
                       section.path, section.line)
    for key, value in (("width", w), ("height", h), ("channels", c)):
        if value < 0:
            raise CfgError(f"[net] {key}={value} must not be negative", section.path,
                           section.line_of(key))
    return NetOptions(width=w, height=h, channels=c, inputs=inputs,
                      batch=section.int("batch", 1) or 1,
                      letter_box=bool(section.int("letter_box", 0)), section=section)


DARKNET_SECTION_NAMES = frozenset({
    "shortcut", "scale_channels", "sam", "crop", "cost", "detection", "region", "yolo",
    "Gaussian_yolo", "local", "conv", "convolutional", "activation", "net", "network", "crnn",
    "gru", "lstm", "conv_lstm", "history", "rnn", "conn", "connected", "max", "maxpool",
    "local_avg", "local_avgpool", "reorg3d", "reorg", "avg", "avgpool", "dropout", "lrn",
    "normalization", "batchnorm", "soft", "softmax", "contrastive", "route", "upsample",
    "empty", "silence", "implicit", "deconvolutional", "deconv",
})
"""Section names Darknet's `string_to_layer_type` (src/parser.c) knows (case-sensitive)."""


def unsupported_section_message(section: Section) -> str:
    """Why a section has no layer type here: misplaced [net], a Darknet type this tool
    does not run, or a name Darknet does not know (with the nearest known name)."""
    name = section.name
    if section.type == "net":
        return (f"[{name}] on line {section.line} may only be the first section; remove it "
                "or merge its options into the first [net]")
    if name in DARKNET_SECTION_NAMES:
        return (f"[{name}] on line {section.line} is a Darknet layer type this tool does not "
                "support yet; the layers after it cannot be shaped")
    close = difflib.get_close_matches(name, sorted(DARKNET_SECTION_NAMES), n=1, cutoff=0.75)
    if not close:
        close = [known for known in DARKNET_SECTION_NAMES if known.lower() == name.lower()]
    hint = f"; did you mean [{close[0]}]?" if close else (
        "; check its spelling (section names are case-sensitive)")
    return f"unknown section [{name}] on line {section.line}: Darknet does not know it{hint}"


def unknown_net_keys(section: Section) -> list[Diagnostic]:
    """Warnings for `[net]` keys that no part of Darknet reads (typos, foreign keys)."""
    section.ignore(*NET_KEYS)
    return [Diagnostic("warning", f"unknown option {option.key} in [{section.name}] on line "
                       f"{option.line} (Darknet ignores it)", None, option.line)
            for option in section.unused_keys()]


def build_network(cfg: Cfg, width: int | None = None, height: int | None = None,
                  tree: DarknetTree | None = None) -> Network:
    """Build every layer; problems a user can fix become diagnostics, not exceptions.
    `tree`: the tree file the user gave for the cfg's `tree=` layers (never the cfg's own
    path, core.darknet_tree)."""
    diagnostics = list(cfg.diagnostics)
    first = cfg.sections[0]
    if first.type != "net":
        raise CfgError(f"the first section must be [net] or [network], found [{first.name}]",
                       cfg.path, first.line)
    net = parse_net_options(first, width, height)
    diagnostics.extend(unknown_net_keys(first))
    layers: list[Layer] = []
    for index, section in enumerate(cfg.sections[1:]):
        layers.append(_build_layer(index, section, net, layers, diagnostics, tree))
    diagnostics.extend(relu6_cpu_warning(layers))
    network = Network(cfg, net, layers, diagnostics, tree)
    diagnostics.extend(memory_diagnostics(network))
    return network


def _build_layer(index: int, section: Section, net: NetOptions, layers: list[Layer],
                 diagnostics: list[Diagnostic], tree: DarknetTree | None) -> Layer:
    ctx = BuildContext(index, section, net, layers, diagnostics, tree)
    kind = layer_type(section.type)
    unknown = Layer(index, section.type, section.line, section, ctx.input_shape, None,
                    (index - 1,))
    if kind is None:
        ctx.error(unsupported_section_message(section))
        return unknown
    try:
        built = kind.build(ctx)
    except UnknownInput:
        return unknown
    except LayerProblem as problem:
        ctx.error(problem.message, problem.line)
        return unknown
    except CfgError as exc:
        ctx.error(exc.message, exc.line)
        return unknown
    section.ignore(*COMMON_KEYS, *kind.known_keys)
    for option in section.unused_keys():
        ctx.warn(f"unknown option {option.key} in [{section.name}] on line {option.line} "
                 "(Darknet ignores it)", option.line)
    for option in section.commented_text_options():
        ctx.warn(text_value_comment_warning(section, option), option.line)
    weights = () if section.int("dontload", 0) else tuple(built.weights)
    inputs = built.inputs if built.inputs is not None else (index - 1,)
    return Layer(index, section.type, section.line, section, ctx.input_shape,
                 built.output_shape, inputs, built.params, weights, built.runnable,
                 built.summary, built.refusal)


def load_network(path: str | os.PathLike, width: int | None = None,
                 height: int | None = None, tree: DarknetTree | None = None) -> Network:
    return build_network(read_cfg(path), width, height, tree)
