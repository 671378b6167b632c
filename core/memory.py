"""What running a whole network takes, from its shapes alone: the estimate, the refusals
before allocating (`LimitError`) and the warning `inspect` shows. The limit itself and its
settings live in `core.limits`, a leaf every module may import."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.limits import (
    FLOAT_BYTES,
    LimitError,
    how_to_raise,
    max_memory_bytes,
    max_memory_mb,
    megabytes,
)

if TYPE_CHECKING:
    from darknet_inspector.core.network import Network


@dataclass(frozen=True)
class MemoryEstimate:
    """What running a network (batch 1) takes: its parameters, every layer's output (an
    upper bound of what one forward pass holds; `dump` keeps them all) and the largest
    scratch buffer one layer needs while it runs."""

    parameter_bytes: int
    activation_bytes: int
    largest: str  # the single biggest tensor or activation, with its layer and line
    workspace_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.parameter_bytes + self.activation_bytes + self.workspace_bytes

    def describe(self) -> str:
        scratch = (f", scratch {megabytes(self.workspace_bytes)}" if self.workspace_bytes
                   else "")
        return (f"about {megabytes(self.total_bytes)} (parameters "
                f"{megabytes(self.parameter_bytes)}, layer outputs "
                f"{megabytes(self.activation_bytes)}{scratch}; the largest is {self.largest})")


def estimate_memory(network: Network) -> MemoryEstimate:
    """Parameters, activations and scratch of a network, from its shapes alone (nothing
    is allocated)."""
    input_bytes = FLOAT_BYTES * math.prod(network.input_shape)
    activations, workspace = input_bytes, 0
    biggest, largest = input_bytes, f"the input {_shape(network.input_shape)}"
    for layer in network.layers:
        where = f"layer {layer.index} ([{layer.section.name}], cfg line {layer.line})"
        kind = layer_type(layer.type)
        scratch = kind.workspace_bytes(layer) if kind is not None and layer.known else 0
        workspace = max(workspace, scratch)
        if scratch > biggest:
            biggest, largest = scratch, f"the scratch buffer of {where}, {megabytes(scratch)}"
        if layer.output_shape is not None:
            size = FLOAT_BYTES * math.prod(layer.output_shape)
            activations += size
            if size > biggest:
                biggest, largest = size, (f"the output {_shape(layer.output_shape)} of "
                                          f"{where}, {megabytes(size)}")
        for spec in layer.weights:
            if spec.nbytes > biggest:
                biggest, largest = spec.nbytes, (f"the {spec.name} tensor "
                                                 f"{_shape(spec.shape)} of {where}, "
                                                 f"{megabytes(spec.nbytes)}")
    return MemoryEstimate(network.weight_bytes(), activations, largest, workspace)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def check_model_memory(network: Network) -> None:
    """Raise LimitError, before anything is allocated, when running the network would need
    more than the limit."""
    estimate = estimate_memory(network)
    if estimate.total_bytes > max_memory_bytes():
        raise LimitError(f"{network.path}: the model would need {estimate.describe()}, more "
                         f"than the {max_memory_mb():,} MB limit; refused before allocating. "
                         f"Check the cfg's sizes; {how_to_raise()}")


def check_weights_memory(network: Network) -> None:
    """Raise LimitError when copying the network's weights in would exceed the limit."""
    needed = network.weight_bytes()
    if needed > max_memory_bytes():
        raise LimitError(f"{network.path}: its weights would take {megabytes(needed)}, more "
                         f"than the {max_memory_mb():,} MB limit; refused before allocating. "
                         f"Check the cfg's sizes; {how_to_raise()}")


def memory_diagnostics(network: Network) -> list[Diagnostic]:
    """A warning when the network can be inspected but not run within the limit."""
    estimate = estimate_memory(network)
    if estimate.total_bytes <= max_memory_bytes():
        return []
    return [Diagnostic(
        "warning", f"running this model would need {estimate.describe()}, more than the "
        f"{max_memory_mb():,} MB limit: its shapes can be inspected, but converting or "
        f"running it will be refused; check the cfg's sizes, or {how_to_raise()}")]
