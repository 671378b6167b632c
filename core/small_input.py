"""The smallest input a network accepts with the weights it has: where a self-check can
run a forward pass cheaply (yolov4 at 32x32 instead of 416x416, ~170x less work)."""

from __future__ import annotations

import math

from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.network import Network, build_network

MAX_TRIES = 8


def smallest_input(network: Network) -> tuple[int, int]:
    """The smallest (width, height), in steps of the network's largest downsampling, at
    which the cfg builds with the same weight layout, the same channels per layer and no
    more diagnostics; the cfg's own size when no smaller one does (a [connected] or
    [local] layer's weights fix it)."""
    width, height = network.net.width, network.net.height
    steps = _downsampling(network)
    if steps is None:
        return width, height
    expected = _signature(network)
    for k in range(1, MAX_TRIES + 1):
        w, h = min(width, k * steps[0]), min(height, k * steps[1])
        if (w, h) == (width, height):
            break
        try:
            small = build_network(parse_cfg(network.cfg.text, network.path), w, h,
                                  network.tree)
        except InspectorError:
            continue
        if small.complete and _signature(small) == expected:
            return w, h
    return width, height


def _downsampling(network: Network) -> tuple[int, int] | None:
    """How many input pixels the smallest feature map (larger than 1x1) takes per cell,
    along the width and the height; None without a 3-D input or feature map."""
    maps = [layer.output_shape for layer in network.layers
            if layer.output_shape is not None and len(layer.output_shape) == 3
            and layer.output_shape[1] * layer.output_shape[2] > 1]
    if len(network.input_shape) != 3 or not maps or network.net.width <= 0:
        return None
    smallest_w = min(shape[2] for shape in maps)
    smallest_h = min(shape[1] for shape in maps)
    return (math.ceil(network.net.width / smallest_w),
            math.ceil(network.net.height / smallest_h))


def _signature(network: Network) -> tuple:
    """What must not change with the input size: every tensor's name and shape, every
    layer's type and channels, and how many diagnostics the cfg gets."""
    layers = tuple((layer.type, tuple((spec.name, tuple(spec.shape)) for spec in layer.weights),
                    layer.output_shape[0] if layer.output_shape else None)
                   for layer in network.layers)
    return layers, len(network.diagnostics)
