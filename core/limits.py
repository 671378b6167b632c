"""Sane memory limits: refuse, before allocating anything, a model whose tensors or
activations would not fit (a cfg with width=100000 or filters=1000000000 is a typo, not a
model). Shapes are plain arithmetic on Python ints, so they can always be inspected; the
limit applies where memory is really taken: building a model, copying weights in, and
layer modules that precompute tables.

The limit is `DEFAULT_MAX_MEMORY_MB` unless the environment variable `MEMORY_ENV_VAR` or
the command line option `--max-memory-mb` (through `set_max_memory_mb`) says otherwise.

A leaf: constants, the setting and one-allocation checks, importing nothing of the engine
but `core.errors` (so `core.cfg` and every layer type may import it). What a whole network
needs is `core.memory`.
"""

from __future__ import annotations

import math
import os

from darknet_inspector.core.errors import InspectorError, UsageError

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


def check_allocation(nbytes: int, what: str) -> None:
    """Raise LimitError when one allocation (`what` says which) exceeds the limit."""
    if nbytes > max_memory_bytes():
        raise LimitError(f"{what} would take {megabytes(nbytes)}, more than the "
                         f"{max_memory_mb():,} MB limit; refused before allocating. "
                         f"{how_to_raise()[:1].upper()}{how_to_raise()[1:]}")


OUT_OF_MEMORY = "out of memory (the model or input is too large for this machine)"


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's failure to allocate (a RuntimeError on CPU, its subclass
    torch.cuda.OutOfMemoryError on CUDA): the machine, not the input, ran out."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text)
