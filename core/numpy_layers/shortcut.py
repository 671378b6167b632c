"""[shortcut] as numpy: `shortcut_multilayer_cpu` (src/blas.c) with the inference-time
weight normalisation of `fuse_conv_batchnorm` (src/network.c), on (H, W, C) arrays; the
same rules as core.torch_layers.shortcut."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.shortcut import ShortcutParams
from darknet_inspector.core.numpy_layers.activations import InPlace, activation_step
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def mixing_weights(weights: np.ndarray, normalization: str | None) -> np.ndarray:
    """One row of weights per input (scalar or per channel), normalised as Darknet's
    inference path does: relu with `max(w, 0.001)` (`fuse_conv_batchnorm`), softmax as in
    training; each divided by its column's sum + 0.0001."""
    w = (weights if weights.ndim == 2 else weights.reshape(-1, 1)).astype(np.float32)
    if normalization == "relu":
        w = np.maximum(w, np.float32(0.001))
        w = w / (w.sum(axis=0, keepdims=True) + np.float32(0.0001))
    elif normalization == "softmax":
        e = np.exp(w - w.max(axis=0, keepdims=True))
        w = e / (e.sum(axis=0, keepdims=True) + np.float32(0.0001))
    return w


def aligned_to(add: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Darknet adds flat element i of `add` to flat element i of the output (both laid
    out C, H, W) for every i below both sizes: crop or zero-pad `add` in that order."""
    if add.shape == shape:
        return add
    flat = add.transpose(2, 0, 1).reshape(-1)
    h, w, c = shape
    size = h * w * c
    flat = flat[:size] if flat.size >= size else np.pad(flat, (0, size - flat.size))
    return flat.reshape(c, h, w).transpose(1, 2, 0)


def shortcut_step(weights: np.ndarray | None, act: InPlace) -> Step:
    """x plus each `from=` layer (each times its mixing weight row when weighted)."""
    def shortcut(x: np.ndarray, *others: np.ndarray) -> np.ndarray:
        if weights is None:
            out = x + aligned_to(others[0], x.shape)
            for other in others[1:]:
                out += aligned_to(other, x.shape)
        else:
            out = x * weights[0]
            for i, other in enumerate(others, start=1):
                out += aligned_to(other, x.shape) * weights[i]
        act(out)
        return out

    return shortcut


def _refuse_uncovered(layer: Layer) -> None:
    activation_step(layer.params_as(ShortcutParams).activation)


@step_for("shortcut", check=_refuse_uncovered)
def _shortcut_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(ShortcutParams)
    weights = mixing_weights(tensors["weights"], p.normalization) if p.weights_type else None
    return shortcut_step(weights, activation_step(p.activation))
