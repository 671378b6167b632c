"""Darknet's activations as in-place numpy functions on float32 arrays, the same formulas
as core.torch_layers.activations (src/activations.c, AlexeyAB fork). Names without a
function here are refused (`activation_step` raises NotCovered), e.g. the
channel-normalising ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from darknet_inspector.core.activations import activation_or_default, activation_registrar
from darknet_inspector.core.numpy_layers.registry import NotCovered

InPlace = Callable[[np.ndarray], None]
IN_PLACE: dict[str, InPlace] = {}
F32 = np.float32


activation = activation_registrar(IN_PLACE)


def activation_step(name: str) -> InPlace:
    """The in-place function of activation `name` (an unknown name is Darknet's relu)."""
    fn = IN_PLACE.get(activation_or_default(name))
    if fn is None:
        raise NotCovered(f"activation={name}")
    return fn


@activation("linear")
def _linear(y: np.ndarray) -> None:
    return None


@activation("leaky", "revleaky")
def _leaky(y: np.ndarray) -> None:
    """max(x, 0.1x) is x for x >= 0 and 0.1x below (REVLEAKY is LEAKY forward)."""
    np.maximum(y, y * F32(0.1), out=y)


@activation("relu")
def _relu(y: np.ndarray) -> None:
    np.maximum(y, F32(0), out=y)


@activation("relu6")
def _relu6(y: np.ndarray) -> None:
    """Clamped to [0, 6] as Darknet's GPU kernels and hank-ai's CPU code do."""
    np.clip(y, F32(0), F32(6), out=y)


def logistic_(y: np.ndarray) -> None:
    """1 / (1 + exp(-x)) in place (exp overflowing to inf gives 0, as it should)."""
    with np.errstate(over="ignore"):
        np.negative(y, out=y)
        np.exp(y, out=y)
    y += F32(1)
    np.reciprocal(y, out=y)


activation("logistic")(logistic_)


@activation("loggy")
def _loggy(y: np.ndarray) -> None:
    logistic_(y)
    y *= F32(2)
    y -= F32(1)


@activation("tanh")
def _tanh(y: np.ndarray) -> None:
    np.tanh(y, out=y)


@activation("swish")
def _swish(y: np.ndarray) -> None:
    s = y.copy()
    logistic_(s)
    y *= s


@activation("mish")
def _mish(y: np.ndarray) -> None:
    """x * tanh(softplus(x)) as x * n / (n + 2), n = e * (e + 2), e = exp(min(x, 20)):
    tanh(log(1 + e)) = ((1+e)^2 - 1) / ((1+e)^2 + 1). Above 20 the factor is 1.0 in
    float32 (Darknet's softplus cut), far below 0 it is e (its exp branch)."""
    n = np.minimum(y, F32(20))
    np.exp(n, out=n)
    e2 = n + F32(2)
    n *= e2
    np.add(n, F32(2), out=e2)
    n /= e2
    y *= n


@activation("hard_mish")
def _hard_mish(y: np.ndarray) -> None:
    """`hard_mish_yashas`: x above 0, x*x/2 + x in (-2, 0], 0 below."""
    with np.errstate(over="ignore"):  # only where x > 0, which keeps x
        mid = y * y * F32(0.5) + y
    y[...] = np.where(y > 0, y, np.where(y > -2, mid, F32(0)))


@activation("elu")
def _elu(y: np.ndarray) -> None:
    y[...] = np.where(y >= 0, y, np.expm1(np.minimum(y, F32(0))))


@activation("selu")
def _selu(y: np.ndarray) -> None:
    neg = np.expm1(np.minimum(y, F32(0))) * F32(1.0507 * 1.6732)
    y[...] = np.where(y >= 0, y * F32(1.0507), neg)


@activation("gelu")
def _gelu(y: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):  # tanh(+-inf) is +-1 as in torch
        t = np.tanh(y * F32(0.797885) + F32(0.035677) * y * y * y)
    t += F32(1)
    y *= F32(0.5)
    y *= t


@activation("relie")
def _relie(y: np.ndarray) -> None:
    y[...] = np.where(y > 0, y, y * F32(0.01))


@activation("ramp")
def _ramp(y: np.ndarray) -> None:
    y[...] = np.maximum(y, F32(0)) + y * F32(0.1)


@activation("hardtan")
def _hardtan(y: np.ndarray) -> None:
    np.clip(y, F32(-1), F32(1), out=y)
