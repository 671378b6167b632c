"""The activation names Darknet knows (`get_activation`, src/activations.c, AlexeyAB
fork), torch-free: the cfg parser and `inspect` need only the names; the functions are
core.torch_layers.activations, one per name."""

from __future__ import annotations

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
