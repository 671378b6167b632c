"""Darknet's activation functions as torch code, one registered function each (the
names, torch-free, are core.activations.ACTIVATION_NAMES; each name has one function).

Formulas follow Darknet's src/activations.h and src/activations.c (AlexeyAB fork);
the channel-normalising ones act across channels per pixel, as
`activate_array_normalize_channels*` does for convolutional layers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from darknet_inspector.core.activations import activation_or_default, activation_registrar

Activation = Callable[[Tensor], Tensor]
ACTIVATIONS: dict[str, Activation] = {}


activation = activation_registrar(ACTIVATIONS)


@activation("linear")
def _linear(x: Tensor) -> Tensor:
    return x


@activation("leaky")
def _leaky(x: Tensor) -> Tensor:
    return torch.nn.functional.leaky_relu(x, 0.1)


@activation("revleaky")
def _revleaky(x: Tensor) -> Tensor:
    """Darknet's `activate` treats REVLEAKY exactly like LEAKY in the forward pass."""
    return torch.nn.functional.leaky_relu(x, 0.1)


@activation("logistic")
def _logistic(x: Tensor) -> Tensor:
    return torch.sigmoid(x)


@activation("loggy")
def _loggy(x: Tensor) -> Tensor:
    return 2.0 * torch.sigmoid(x) - 1.0


@activation("relu")
def _relu(x: Tensor) -> Tensor:
    return torch.relu(x)


@activation("relu6")
def _relu6(x: Tensor) -> Tensor:
    return torch.clamp(x, 0.0, 6.0)


@activation("elu")
def _elu(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x, torch.expm1(x))


@activation("selu")
def _selu(x: Tensor) -> Tensor:
    return torch.where(x >= 0, 1.0507 * x, 1.0507 * 1.6732 * torch.expm1(x))


@activation("gelu")
def _gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.tanh(0.797885 * x + 0.035677 * x * x * x))


@activation("relie")
def _relie(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, 0.01 * x)


@activation("ramp")
def _ramp(x: Tensor) -> Tensor:
    return torch.relu(x) + 0.1 * x


@activation("tanh")
def _tanh(x: Tensor) -> Tensor:
    return torch.tanh(x)


@activation("plse")
def _plse(x: Tensor) -> Tensor:
    mid = 0.125 * x + 0.5
    return torch.where(x < -4, 0.01 * (x + 4), torch.where(x > 4, 0.01 * (x - 4) + 1, mid))


@activation("hardtan")
def _hardtan(x: Tensor) -> Tensor:
    return torch.clamp(x, -1.0, 1.0)


@activation("lhtan")
def _lhtan(x: Tensor) -> Tensor:
    return torch.where(x < 0, 0.001 * x, torch.where(x > 1, 0.001 * (x - 1) + 1, x))


@activation("stair")
def _stair(x: Tensor) -> Tensor:
    n = torch.floor(x)
    half = torch.floor(x / 2.0)
    return torch.where(torch.remainder(n, 2) == 0, half, (x - n) + half)


@activation("swish")
def _swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


@activation("mish")
def _mish(x: Tensor) -> Tensor:
    """Darknet's `x * tanh(softplus(x))` with softplus cut at +-20 (`activate_array_mish`).
    torch's fused `mish` computes `x * tanh(log1p(exp(x)))`: above 20 both give x (tanh
    is 1.0 in float), below -20 log1p(exp(x)) equals exp(x) in float, so the results
    agree to rounding, in one pass instead of eight."""
    return torch.nn.functional.mish(x)


@activation("hard_mish")
def _hard_mish(x: Tensor) -> Tensor:
    """`hard_mish_yashas` (src/activations.c)."""
    return torch.where(x > 0, x, torch.where(x > -2, x * x / 2 + x, torch.zeros_like(x)))


def _over_channels(x: Tensor) -> int:
    return 1 if x.dim() >= 2 else 0


@activation("normalize_channels")
def _normalize_channels(x: Tensor) -> Tensor:
    """`activate_array_normalize_channels`: positive parts divided by their sum + 1e-4."""
    positive = torch.relu(x)
    return positive / (positive.sum(dim=_over_channels(x), keepdim=True) + 0.0001)


@activation("normalize_channels_softmax")
def _normalize_channels_softmax(x: Tensor) -> Tensor:
    """`activate_array_normalize_channels_softmax` with use_max_val=0 (eps 1e-4 in the sum)."""
    e = torch.exp(x)
    return e / (e.sum(dim=_over_channels(x), keepdim=True) + 0.0001)


@activation("normalize_channels_softmax_maxval")
def _normalize_channels_softmax_maxval(x: Tensor) -> Tensor:
    """`activate_array_normalize_channels_softmax` with use_max_val=1."""
    dim = _over_channels(x)
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / (e.sum(dim=dim, keepdim=True) + 0.0001)


class Activate(nn.Module):
    """An nn.Module wrapper so activations show up in module listings and exports."""

    def __init__(self, name: str):
        super().__init__()
        self.name = activation_or_default(name)
        self.fn = ACTIVATIONS[self.name]

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name
