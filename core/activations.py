"""The activation names Darknet knows (`get_activation`, src/activations.c, AlexeyAB
fork), torch-free: the cfg parser and `inspect` need only the names; the functions are
core.torch_layers.activations, one per name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

ACTIVATION_NAMES: frozenset[str] = frozenset({
    "linear",
    "leaky",
    "revleaky",
    "logistic",
    "loggy",
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "relie",
    "ramp",
    "tanh",
    "plse",
    "hardtan",
    "lhtan",
    "stair",
    "swish",
    "mish",
    "hard_mish",
    "normalize_channels",
    "normalize_channels_softmax",
    "normalize_channels_softmax_maxval",
})
DEFAULT_UNKNOWN = "relu"


def is_known_activation(name: str) -> bool:
    return name in ACTIVATION_NAMES


def activation_or_default(name: str) -> str:
    """Darknet's `get_activation`: an unknown name silently becomes ReLU."""
    return name if name in ACTIVATION_NAMES else DEFAULT_UNKNOWN


F = TypeVar("F")


def activation_registrar(table: dict[str, F]) -> Callable[..., Callable[[F], F]]:
    """The decorator `@activation("name", ...)` that an engine's activation functions
    register with (core.torch_layers.activations, core.numpy_layers.activations): each
    name one of Darknet's, each registered once, into `table`."""
    def activation(*names: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            for name in names:
                if not is_known_activation(name):
                    raise ValueError(f"activation {name!r} is not in core.activations' names")
                if name in table:
                    raise ValueError(f"activation {name!r} registered twice")
                table[name] = fn
            return fn

        return register

    return activation
