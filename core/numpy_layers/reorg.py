"""[reorg] and [reorg3d] as numpy: `reorg_cpu` (src/blas.c) as one precomputed gather
(core.layers.reorg.reorg_cpu_gather, defined on C, H, W memory), re-indexed once for
(H, W, C) arrays."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.reorg import ReorgParams, reorg_cpu_arguments, reorg_cpu_gather
from darknet_inspector.core.numpy_layers.registry import Step, Tensors, step_for
from darknet_inspector.core.numpy_layers.rows import RowPool


def hwc_gather(chw_gather: np.ndarray, in_shape: tuple[int, int, int],
               out_shape: tuple[int, int, int]) -> np.ndarray:
    """out_chw.flat = in_chw.flat[chw_gather] restated as out_hwc.flat = in_hwc.flat[...]."""
    c, h, w = in_shape
    k, j, i = np.unravel_index(chw_gather, (c, h, w))
    source = (j * w + i) * c + k  # where each CHW element sits in the HWC input
    oc, oh, ow = out_shape
    return source.reshape(oc, oh, ow).transpose(1, 2, 0).ravel()


def reorg_step(gather: np.ndarray, out_shape: tuple[int, int, int]) -> Step:
    oc, oh, ow = out_shape

    def reorg(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x).reshape(-1)[gather].reshape(oh, ow, oc)

    return reorg


@step_for("reorg", "reorg3d")
def _reorg_step(layer: Layer, tensors: Tensors, rows: RowPool) -> Step:
    p = layer.params_as(ReorgParams)
    c, h, w = p.in_shape
    rw, rh, rc, forward = reorg_cpu_arguments(layer.type, c, h, w, layer.built_shape,
                                              p.reverse)
    oc, oh, ow = layer.built_shape
    gather = hwc_gather(reorg_cpu_gather(rw, rh, rc, p.stride, forward), p.in_shape,
                        (oc, oh, ow))
    return reorg_step(gather, (oc, oh, ow))
