"""OpenCV DNN's Darknet importer (`cv2.dnn.readNetFromDarknet`, OpenCV 4.x) as an
independent reference: what it cannot load, where it computes unlike Darknet, and its
outputs keyed by Darknet layer index in our layout.

OpenCV is optional (`opencv-python-headless<5`): nothing here imports it at module level.
OpenCV names its layers `<kind>_<id>` (`conv_3`, `bn_3`, `shortcut_4`, `yolo_30`, ...)
where the id counts Darknet layers, except that an activation fused onto a layer carries
the *next* id (`conv_0`, `bn_0`, `leaky_1`); a Darknet layer's output is the last OpenCV
layer of its group. Importer details follow OpenCV's
modules/dnn/src/darknet/darknet_io.cpp and darknet_importer.cpp.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from darknet_inspector.core.activations import is_known_activation
from darknet_inspector.core.cfg import split_lines
from darknet_inspector.core.layers import head_type, is_head
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.layers.pooling import PoolParams
from darknet_inspector.core.layers.region import RegionParams
from darknet_inspector.core.layers.shortcut import ShortcutParams
from darknet_inspector.core.layers.softmax import SoftmaxParams
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import parse_header, tensor_offsets

ACTIVATION_KINDS = frozenset({
    "leaky", "relu", "mish", "swish", "logistic", "tanh", "elu", "selu", "gelu", "hardswish",
    "relu6", "sigmoid", "silu",
})
OPENCV_SECTIONS = frozenset({
    "convolutional", "connected", "maxpool", "avgpool", "softmax", "route", "dropout", "cost",
    "reorg", "region", "shortcut", "scale_channels", "upsample", "yolo", "crop", "sam",
})
"""Section types OpenCV's `ReadDarknetFromCfgStream` builds (darknet_io.cpp)."""
OPENCV_ACTIVATIONS = frozenset({"linear", "leaky", "relu", "mish", "swish", "logistic",
                                "tanh", "silu"})
"""Activations OpenCV's `setActivation` (darknet_io.cpp, 4.14) builds; silu = swish."""
UPSAMPLE_STRIDE_DEFAULTS = {"darknet": 2, "opencv": 1}
"""`parse_upsample` (src/parser.c) defaults stride to 2; OpenCV's importer to 1."""
HEAD_SECTIONS = tuple(sorted(name for name in OPENCV_SECTIONS if is_head(name)))
"""The heads OpenCV builds (as its Region layer): [region] and [yolo]."""
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def opencv_version() -> str | None:
    """OpenCV's version, or None when `cv2` cannot be imported."""
    try:
        import cv2
    except ImportError:
        return None
    return str(cv2.__version__)


def opencv_unavailable_reason() -> str | None:
    """Why OpenCV cannot serve as a reference here, or None when it can."""
    version = opencv_version()
    if version is None:
        return ("OpenCV is not installed; pip install 'opencv-python-headless<5' to compare "
                "against OpenCV DNN's Darknet importer")
    if int(version.split(".")[0]) >= 5:
        return f"OpenCV {version}: its Darknet importer is only known here for 4.x"
    return None


def opencv_cfg_text(text: str, width: int | None = None, height: int | None = None) -> str:
    """The cfg as OpenCV should read it: inline comments dropped (OpenCV keeps them in the
    value), `[net]` width/height replaced, every [yolo]/[region] head told `thresh=0`,
    `nms_threshold=0` so its output keeps every box instead of zeroing and suppressing,
    and every [upsample] without `stride=` given Darknet's default (`opencv_upsample_stride`)."""
    lines: list[str] = []
    section = ""
    physical = split_lines(text)
    for number, raw in enumerate(physical):
        line = re.split(r"[#;]", raw, maxsplit=1)[0].rstrip()
        match = _SECTION.match(line)
        if match:
            section = match.group(1).strip()
            lines.append(line)
            if section in HEAD_SECTIONS:
                lines += ["thresh=0", "nms_threshold=0"]
            if section == "upsample":
                lines += opencv_upsample_stride(physical[number + 1:])
            continue
        key = line.split("=", 1)[0].strip()
        if section in ("net", "network") and key in ("width", "height"):
            value = width if key == "width" else height
            if value is not None:
                line = f"{key}={value}"
        if section in HEAD_SECTIONS and key in ("thresh", "nms_threshold"):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def opencv_upsample_stride(rest: list[str]) -> list[str]:
    """`stride=2` for an [upsample] section without one (`rest`: the cfg lines after its
    header): Darknet's default, which OpenCV's importer would take as 1 and so build
    every later layer at the wrong size."""
    for raw in rest:
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
        if _SECTION.match(line):
            break
        if line.split("=", 1)[0].strip() == "stride":
            return []
    return [f"stride={UPSAMPLE_STRIDE_DEFAULTS['darknet']}"]


def read_opencv_net(cfg_text: str, weights: str | os.PathLike | bytes) -> Any:
    """Load cfg text and weights (a path or the file's bytes) with OpenCV on its own CPU
    backend (raises cv2.error when it cannot). Layer fusion is off: OpenCV 4.x returns
    wrong values for a requested intermediate output it fused into a later concat; so is
    Winograd, which trades float32 accuracy for speed."""
    import cv2

    cfg = np.frombuffer(cfg_text.encode(), np.uint8)
    data = (np.frombuffer(weights, np.uint8) if isinstance(weights, bytes)
            else np.fromfile(os.fspath(weights), np.uint8))
    net = cv2.dnn.readNetFromDarknet(cfg, data)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.enableFusion(False)
    if hasattr(net, "enableWinograd"):  # OpenCV >= 4.7: exact float32 3x3 convolutions
        net.enableWinograd(False)
    return net


def darknet_layer_names(net: Any) -> dict[int, str]:
    """Darknet layer index -> the OpenCV layer holding that layer's output."""
    last: dict[int, str] = {}
    current = -1
    for name in net.getLayerNames():
        kind, _, number = name.rpartition("_")
        if number.isdigit() and kind not in ACTIVATION_KINDS and int(number) != current:
            current = int(number)
        last[current] = name
    return last


def opencv_outputs(net: Any, x: np.ndarray, layers: list[int] | None = None
                   ) -> dict[int, np.ndarray]:
    """Run `net` on `x` (NCHW float32); outputs of the given Darknet layers (default: all)."""
    names = darknet_layer_names(net)
    wanted = [i for i in (layers if layers is not None else sorted(names)) if i in names]
    net.setInput(np.ascontiguousarray(x, dtype=np.float32))
    outs = net.forward([names[i] for i in wanted])
    return {i: np.asarray(out) for i, out in zip(wanted, outs)}


OPENCV_BN_EPSILON = 1e-6
DARKNET_BN_EPSILON = 1e-5


def compensate_bn_epsilon(network: Network, data: bytes) -> bytes:
    """The weights file as OpenCV must read it to compute Darknet's batch norm: OpenCV's
    importer gives every conv's BatchNorm `eps = 1e-6` (`setConvolution`,
    darknet_io.cpp) where Darknet divides by `sqrt(variance + .00001)`
    (`normalize_cpu`, src/blas.c). Adding the difference to each stored
    `rolling_variance` makes OpenCV's `variance' + 1e-6` equal Darknet's `variance + 1e-5`;
    it matters for trained models, whose near-dead channels have variances near 1e-5.
    Offsets come from our weight layout; OpenCV still reads the file in its own."""
    buffer = bytearray(data)
    offsets = tensor_offsets(network, parse_header(data[:20]).size)
    shift = np.float32(DARKNET_BN_EPSILON - OPENCV_BN_EPSILON)
    for layer in network.layers:
        for spec in layer.weights:
            offset = offsets.get((layer.index, spec.name))
            if offset is None or layer.type != "convolutional" or \
                    spec.name != "rolling_variance" or offset + spec.nbytes > len(buffer):
                continue
            values = np.frombuffer(buffer, "<f4", spec.count, offset) + shift
            buffer[offset:offset + spec.nbytes] = values.astype("<f4").tobytes()
    return bytes(buffer)


# ---------------------------------------------------------------- head layouts

def as_opencv(network: Network, layer: Layer, output: np.ndarray) -> np.ndarray:
    """Our output of one layer (one sample) as OpenCV lays it out: NCHW as is, a head as
    its type lays out Darknet's `l.output` the way OpenCV's Region layer decodes it."""
    head = head_type(layer.type)
    laid_out = head.opencv_layout(layer, output, (network.net.width, network.net.height)) \
        if head is not None else None
    return output if laid_out is None else laid_out


def compared_entries(layer: Layer, expected: np.ndarray) -> np.ndarray:
    """Which entries to compare. OpenCV's importer passes no nms_threshold to [region], so
    its Region layer runs NMS at 0.4 and zeroes the class scores it suppresses."""
    mask = np.ones(expected.shape, dtype=bool)
    if layer.type == "region" and expected.ndim == 2:
        mask[:, 5:] = expected[:, 5:] != 0
    return mask


# ---------------------------------------------------------------- where OpenCV is not Darknet

Check = Callable[[Network, Layer], "str | None"]


def _unknown_section(network: Network, layer: Layer) -> str | None:
    """Layers OpenCV lacks: `ReadDarknetFromCfgStream` rejects any other section."""
    if layer.section.name not in OPENCV_SECTIONS:
        return f"OpenCV has no [{layer.section.name}] layer"
    return None


def _unknown_activation(network: Network, layer: Layer) -> str | None:
    """`setActivation` (darknet_io.cpp) knows only a few activations."""
    activation = layer.section.options.get("activation")
    if activation is not None and activation.value not in OPENCV_ACTIVATIONS:
        return f"OpenCV has no activation={activation.value}"
    return None


def _activation_darknet_replaces(network: Network, layer: Layer) -> str | None:
    """An activation OpenCV computes but Darknet does not know: `get_activation`
    (src/activations.c) prints "Couldn't find activation function silu, going with ReLU"
    and runs relu."""
    activation = layer.section.options.get("activation")
    if activation is not None and activation.value in OPENCV_ACTIVATIONS and \
            not is_known_activation(activation.value):
        return (f"activation={activation.value}: OpenCV computes it, Darknet does not know it "
                f"and runs relu (\"Couldn't find activation function {activation.value}, "
                "going with ReLU\")")
    return None


def _depthwise_kernel_on_1x1(network: Network, layer: Layer) -> str | None:
    """OpenCV's depthwise convolution with a kernel larger than 1x1 on a 1x1 map returns
    wrong values (up to 1e21 seen); Darknet (and a hand computation) use the centre tap."""
    p = layer.params
    if isinstance(p, ConvolutionalParams) and p.groups > 1 and p.groups == p.in_channels \
            and p.size > 1 and layer.input_shape is not None \
            and tuple(layer.input_shape[1:]) == (1, 1):
        return (f"OpenCV's depthwise {p.size}x{p.size} convolution on a 1x1 map returns "
                "wrong values")
    return None


def _anchor_count(network: Network, layer: Layer) -> str | None:
    """OpenCV asserts `anchors` has exactly 2*num values ([yolo]/[region])."""
    if layer.type in HEAD_SECTIONS:
        anchors = layer.section.floats("anchors", []) or []
        num = layer.section.int("num", 1)
        if len(anchors) != 2 * num:
            return (f"[{layer.type}] lists {len(anchors) // 2} anchors for num={num}; OpenCV "
                    "asserts they are equal")
    return None


def _adjusting_crop(network: Network, layer: Layer) -> str | None:
    """[crop] without noadjust: OpenCV inserts an extra layer and misnumbers the rest."""
    if layer.type == "crop" and not layer.section.int("noadjust", 0):
        return ("[crop] without noadjust=1: OpenCV adds an extra layer for the x*2-1 "
                "adjustment and then hands every later layer the wrong weights")
    return None


def _flipped_conv(network: Network, layer: Layer) -> str | None:
    """OpenCV refuses `flipped=1` ("Transpose the convolutional weights is not
    implemented", darknet_io.cpp)."""
    if isinstance(layer.params, ConvolutionalParams) and layer.params.flipped:
        return "flipped=1: OpenCV does not implement transposed conv weights"
    return None


def _mismatched_shortcut(network: Network, layer: Layer) -> str | None:
    """OpenCV's Eltwise refuses inputs of different height/width; a channel-only
    mismatch it adds over the common channels, exactly as Darknet does."""
    if isinstance(layer.params, ShortcutParams) and layer.input_shape is not None:
        for source in layer.params.sources:
            if network.layers[source].built_shape[1:] != layer.input_shape[1:]:
                return ("[shortcut] adds layers of different width/height; OpenCV's Eltwise "
                        "refuses them")
    return None


def _region_without_softmax(network: Network, layer: Layer) -> str | None:
    """OpenCV's Region layer asserts softmax and refuses a `tree=` (YOLO9000)."""
    if not isinstance(layer.params, RegionParams):
        return None
    if layer.params.tree:
        return "[region] tree= (YOLO9000): OpenCV's Region layer refuses it"
    if not layer.params.softmax:
        return "[region] without softmax=1: OpenCV's Region layer asserts softmax"
    return None


def _dilation(network: Network, layer: Layer) -> str | None:
    """OpenCV's importer never reads `dilation=` (it runs the conv undilated)."""
    if isinstance(layer.params, ConvolutionalParams) and layer.params.dilation > 1:
        return "dilation > 1: OpenCV ignores dilation"
    return None


def _stride_xy(network: Network, layer: Layer) -> str | None:
    """OpenCV reads only `stride=`; Darknet lets stride_x/stride_y override it."""
    s = layer.section
    p = layer.params
    if any(s.has(k) for k in ("stride_x", "stride_y")) and isinstance(
            p, (ConvolutionalParams, PoolParams)):
        if (p.stride_x, p.stride_y) != (s.int("stride", 1),) * 2:
            return "stride_x/stride_y: OpenCV reads only stride"
    return None


def _antialiasing(network: Network, layer: Layer) -> str | None:
    """OpenCV's importer never reads `antialiasing=` (no stride-1 host layer, no blur)."""
    if layer.section.int("antialiasing", 0) and layer.type in ("convolutional", "maxpool"):
        return "antialiasing: OpenCV ignores it (no blur after the layer)"
    return None


def _share_index(network: Network, layer: Layer) -> str | None:
    """OpenCV reads weights for a `share_index` conv instead of sharing an earlier one's."""
    if isinstance(layer.params, ConvolutionalParams) and layer.params.share_from is not None:
        return "share_index: OpenCV reads weights for a shared conv instead of sharing them"
    return None


def _xnor(network: Network, layer: Layer) -> str | None:
    """OpenCV ignores `xnor=1` and runs float weights and inputs."""
    if isinstance(layer.params, ConvolutionalParams) and layer.params.xnor:
        return "xnor=1: OpenCV ignores it and runs float weights and inputs"
    return None


def _weighted_shortcut(network: Network, layer: Layer) -> str | None:
    """OpenCV's shortcut adds only the first `from=` layer and ignores `weights_type`."""
    if isinstance(layer.params, ShortcutParams) and (layer.params.weights_type
                                                     or len(layer.params.sources) > 1):
        return "weighted or multi-input [shortcut]: OpenCV adds only the first from= layer"
    return None


def _softmax_unlike_darknet(network: Network, layer: Layer) -> str | None:
    """OpenCV's Softmax ignores `temperature` and works per pixel over channels."""
    if not isinstance(layer.params, SoftmaxParams):
        return None
    if layer.params.temperature != 1.0:
        return "[softmax] temperature: OpenCV ignores it"
    if layer.input_shape is not None and len(layer.input_shape) == 3 and any(
            d > 1 for d in layer.input_shape[1:]):
        return ("[softmax] over a spatial input: OpenCV softmaxes channels per pixel, "
                "Darknet the whole flattened input")
    return None


def _tree_softmax(network: Network, layer: Layer) -> str | None:
    """OpenCV's importer ignores `tree=` ([softmax], [region]): one softmax over all the
    values (OpenCV 4.14 checked), not Darknet's `softmax_tree` per group of the tree."""
    if isinstance(layer.params, (SoftmaxParams, RegionParams)) and layer.params.tree:
        return (f"[{layer.section.name}] tree=: OpenCV ignores the tree file and softmaxes "
                "all classes at once")
    return None


OPENCV_CANNOT_LOAD: tuple[Check, ...] = (
    _unknown_section, _unknown_activation, _anchor_count, _adjusting_crop,
    _mismatched_shortcut, _region_without_softmax, _flipped_conv,
)
OPENCV_COMPUTES_DIFFERENTLY: tuple[Check, ...] = (
    _dilation, _stride_xy, _antialiasing, _share_index, _xnor, _weighted_shortcut,
    _tree_softmax, _softmax_unlike_darknet, _activation_darknet_replaces,
    _depthwise_kernel_on_1x1,
)


def first_reason(network: Network, checks: tuple[Check, ...]) -> str | None:
    """The first layer any check flags, as `<reason> (layer N, cfg line L)`."""
    for layer in network.layers:
        for check in checks:
            reason = check(network, layer)
            if reason:
                return f"{reason} (layer {layer.index}, cfg line {layer.line})"
    return None


def first_unloadable(network: Network) -> tuple[int, str] | None:
    """The first layer OpenCV cannot load, and why; the layers before it it can."""
    for layer in network.layers:
        for check in OPENCV_CANNOT_LOAD:
            reason = check(network, layer)
            if reason:
                return layer.index, reason
    return None


def cfg_text_before(network: Network, index: int) -> str:
    """The cfg text up to (not including) layer `index`'s section: what OpenCV can load of
    a cfg it fails on at that layer (Darknet layers only ever read earlier layers)."""
    lines = network.cfg.lines()
    return "\n".join(lines[:network.layers[index].line - 1]) + "\n"


def differs_from_darknet(network: Network, layer: Layer) -> str | None:
    """Why OpenCV's result for this layer is not Darknet's, or None."""
    for check in OPENCV_COMPUTES_DIFFERENTLY:
        reason = check(network, layer)
        if reason:
            return reason
    return None
