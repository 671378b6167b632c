"""Sane memory limits: refuse, before allocating anything, a model whose tensors or
activations would not fit (a cfg with width=100000 or filters=1000000000 is a typo, not a
model). Shapes are plain arithmetic on Python ints, so they can always be inspected; the
limit applies where memory is really taken: building a model, copying weights in, and
layer modules that precompute tables.

The limit is `DEFAULT_MAX_MEMORY_MB` unless the environment variable `MEMORY_ENV_VAR` or
the command line option `--max-memory-mb` (through `set_max_memory_mb`) says otherwise.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from darknet_inspector.core.errors import Diagnostic, InspectorError, UsageError

if TYPE_CHECKING:
    from darknet_inspector.core.network import Network

MB = 1024 * 1024
DEFAULT_MAX_MEMORY_MB = 16 * 1024
"""Large enough for every model of the Darknet zoo at its cfg size (the largest,
cspx-p7-mish at 1536x1536, needs about 6.9 GB with every layer's output kept)."""
MEMORY_ENV_VAR = "DARKNET_INSPECTOR_MAX_MEMORY_MB"
MEMORY_OPTION = "--max-memory-mb"
FLOAT_BYTES = 4
MAX_SECTIONS = 20_000
"""Sections in one cfg (the zoo's largest has about 500; each built layer costs memory)."""
MAX_ANCHORS = 100_000
"""Anchors per detection head (real heads have a handful; the table is built in memory)."""

_override_mb: int | None = None


class LimitError(InspectorError):
    """A model or tensor larger than the memory limit, refused before allocating it."""


def set_max_memory_mb(megabytes: int | None) -> None:
    """Set the limit for this process (None: back to the environment or the default)."""
    global _override_mb
    if megabytes is not None and megabytes < 1:
        raise UsageError(f"{MEMORY_OPTION} {megabytes}: must be a positive number of MB")
    _override_mb = megabytes


def max_memory_mb() -> int:
    """The limit in MB: `set_max_memory_mb`, else the environment variable, else the default."""
    if _override_mb is not None:
        return _override_mb
    text = os.environ.get(MEMORY_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_MEMORY_MB
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{MEMORY_ENV_VAR}={text!r}: must be a positive whole number of MB")
    return value


def max_memory_bytes() -> int:
    return max_memory_mb() * MB


def how_to_raise() -> str:
    return (f"if this machine has the memory, raise the limit with {MEMORY_OPTION} N or the "
            f"environment variable {MEMORY_ENV_VAR}=N")


def megabytes(nbytes: int) -> str:
    return f"{math.ceil(nbytes / MB):,} MB"


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
    from darknet_inspector.core.layers import layer_type

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


def check_allocation(nbytes: int, what: str) -> None:
    """Raise LimitError when one allocation (`what` says which) exceeds the limit."""
    if nbytes > max_memory_bytes():
        raise LimitError(f"{what} would take {megabytes(nbytes)}, more than the "
                         f"{max_memory_mb():,} MB limit; refused before allocating. "
                         f"{how_to_raise()[:1].upper()}{how_to_raise()[1:]}")


def memory_diagnostics(network: Network) -> list[Diagnostic]:
    """A warning when the network can be inspected but not run within the limit."""
    estimate = estimate_memory(network)
    if estimate.total_bytes <= max_memory_bytes():
        return []
    return [Diagnostic(
        "warning", f"running this model would need {estimate.describe()}, more than the "
        f"{max_memory_mb():,} MB limit: its shapes can be inspected, but converting or "
        f"running it will be refused; check the cfg's sizes, or {how_to_raise()}")]


OUT_OF_MEMORY = "out of memory (the model or input is too large for this machine)"


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's failure to allocate (a RuntimeError on CPU, its subclass
    torch.cuda.OutOfMemoryError on CUDA): the machine, not the input, ran out."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text)
