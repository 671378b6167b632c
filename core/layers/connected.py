"""[connected] (alias [conn]): Darknet's `parse_connected` (src/parser.c),
`load_connected_weights` (src/parser.c) and `forward_connected_layer`
(src/connected_layer.c)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.layers.activation import plain_activation
from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    Layer,
    LayerParams,
    LayerType,
    TensorSpec,
    positive,
)
from darknet_inspector.core.layers.registry import register

BN_EPSILON = 0.00001


def connected_weight_layout(prefix: str, inputs: int, outputs: int, batch_normalize: bool,
                            load_scales: bool = True) -> list[TensorSpec]:
    """`load_connected_weights` order: biases, weights[outputs, inputs], then scales,
    rolling_mean, rolling_variance when `batch_normalize` (and not `dontloadscales`)."""
    specs = [TensorSpec(prefix + "biases", (outputs,)),
             TensorSpec(prefix + "weights", (outputs, inputs))]
    if batch_normalize and load_scales:
        specs += [TensorSpec(prefix + "scales", (outputs,)),
                  TensorSpec(prefix + "rolling_mean", (outputs,)),
                  TensorSpec(prefix + "rolling_variance", (outputs,))]
    return specs


def is_connected_weights(name: str) -> bool:
    return name == "weights" or name.endswith(".weights")


def spec_shape(layer: Layer, name: str) -> tuple[int, ...]:
    return next(spec.shape for spec in layer.weights if spec.name == name)


def transposed_to_natural(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A weights file with major or minor > 1000 stores connected weights as
    [inputs, outputs]; `load_connected_weights` transposes them back."""
    outputs, inputs = shape
    return values.reshape(inputs, outputs).T


def natural_to_transposed(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    outputs, inputs = shape
    return values.reshape(outputs, inputs).T


class TransposedConnectedWeights:
    """Mixin for layer types whose connected weights follow the header's transpose flag."""

    def stored_to_natural(self, layer: Layer, name: str, values: np.ndarray,
                          transposed: bool) -> np.ndarray:
        if transposed and is_connected_weights(name):
            return transposed_to_natural(values, spec_shape(layer, name))
        return values

    def natural_to_stored(self, layer: Layer, name: str, values: np.ndarray,
                          transposed: bool) -> np.ndarray:
        if transposed and is_connected_weights(name):
            return natural_to_transposed(values, spec_shape(layer, name))
        return values


@dataclass(frozen=True)
class ConnectedParams(LayerParams):
    """[connected] as `parse_connected` reads it."""

    inputs: int
    outputs: int
    activation: str
    zeroes: bool
    batch_normalize: bool


@register
class Connected(TransposedConnectedWeights, LayerType):
    name = "connected"

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        inputs = math.prod(ctx.require_input())
        outputs = positive(s, "output", s.int("output", 1))
        activation, zeroes = plain_activation(ctx, "logistic")
        batch_normalize = bool(s.int("batch_normalize", 0))
        weights = connected_weight_layout("", inputs, outputs, batch_normalize,
                                          not s.int("dontloadscales", 0))
        params = ConnectedParams(inputs=inputs, outputs=outputs, activation=activation,
                                 zeroes=zeroes, batch_normalize=batch_normalize)
        summary = f"{inputs} -> {outputs} {activation}" + (" bn" if batch_normalize else "")
        return Built((outputs,), params, weights, summary=summary)


