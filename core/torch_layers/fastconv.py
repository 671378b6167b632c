"""Inference-only CPU convolutions with weights packed once, activation fused.

`F.conv2d` on CPU hands plain NCHW weights to oneDNN, which reorders them into its blocked
layout on every call: for YOLOv4 that is all 258 MB of weights each forward pass, and it
made the 13x13 and 26x26 layers up to 1.6x slower than with packed weights. `PackedConv`
packs a layer's weights once (again whenever they change) and runs oneDNN's convolution
with the activation as a post-op where oneDNN has it (OpenCV DNN fuses the same way).

It uses PyTorch's own oneDNN operators (the ones torch.compile's CPU backend emits), so
it only runs where they exist and only for plain inference: real CPU float32 tensors,
no autograd, no tracing or export; anything else, or any failure, takes the caller's
`F.conv2d` path. Values agree with `F.conv2d` to float rounding (tests pin 1e-5).

Packing pays from the second run on. A model run once (`detect` on the command line) is
better off without it (`never_pack`): oneDNN's convolution then takes the plain weights
and reorders them itself, without packing's extra copy of every weight: 0.3 s less in
yolov4's forward at 416 (issue 15). Either way a model gives the same numbers every run.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

POST_OPS: dict[str, tuple[str, list[float]]] = {
    "linear": ("none", []),
    "relu": ("relu", []),
    "leaky": ("leaky_relu", [0.1]),
    "logistic": ("sigmoid", []),
    "tanh": ("tanh", []),
}
"""Darknet activations oneDNN applies as the same formula inside the convolution."""


def _operators() -> tuple[Callable[..., Tensor], Callable[..., Tensor]] | None:
    """oneDNN's fused convolution and its weight packing, or None where torch lacks them."""
    try:
        run = torch.ops.mkldnn._convolution_pointwise
        pack = torch._C._nn.mkldnn_reorder_conv2d_weight
    except (AttributeError, RuntimeError):
        return None
    return (run, pack) if torch.backends.mkldnn.is_available() else None


_OPERATORS = _operators()


def _plain_inference(x: Tensor, weight: Tensor) -> bool:
    return (type(x) is Tensor and type(weight) in (Tensor, torch.nn.Parameter)
            and x.device.type == "cpu" and weight.device.type == "cpu"
            and x.dtype == torch.float32 and weight.dtype == torch.float32 and x.dim() == 4
            and not torch.is_grad_enabled() and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


class PackedConv:
    """One layer's packed weights (not a parameter: never saved, rebuilt when stale)."""

    def __init__(self, stride: tuple[int, int], padding: int, groups: int, activation: str):
        self.stride = list(stride)
        self.padding = [padding, padding]
        self.groups = groups
        self.attr, self.scalars = POST_OPS.get(activation, ("none", []))
        self.fuses_activation = activation in POST_OPS
        self.key: tuple | None = None
        self.packed: Tensor | None = None
        self.packs = True  # False: the plain weights every run (`never_pack`)
        self.broken = _OPERATORS is None

    def __call__(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor | None:
        """conv (+ the activation when `fuses_activation`), or None: use F.conv2d."""
        if _OPERATORS is None or self.broken or not _plain_inference(x, weight):
            return None
        run, pack = _OPERATORS
        try:
            weights = self._packed(weight, x.shape, pack) if self.packs else weight.detach()
            y = run(x, weights, bias, self.padding, self.stride, [1, 1], self.groups,
                    self.attr, self.scalars, "")
        except RuntimeError:
            self.broken = True  # an operator this torch build lacks or refuses: stop trying
            return None
        if not x.is_contiguous(memory_format=torch.channels_last):
            y = y.contiguous()  # oneDNN answers channels_last; keep the caller's layout
        return y

    def _packed(self, weight: Tensor, shape: torch.Size, pack: Callable[..., Tensor]
                ) -> Tensor:
        """The packed weights, packed again when they changed since."""
        key = (weight.data_ptr(), weight._version, tuple(weight.shape))
        if key != self.key or self.packed is None:
            self.packed = pack(weight.detach().to_mkldnn(), self.padding, self.stride, [1, 1],
                               self.groups, list(shape))
            self.key = key
        return self.packed


def never_pack(model: torch.nn.Module) -> None:
    """Run `model`'s convolutions on their plain weights from now on (no packed copy): for
    a model that runs once and is dropped, where packing costs more than it saves."""
    for module in model.modules():
        packed = getattr(module, "packed", None)
        if isinstance(packed, PackedConv):
            packed.packs = False
            packed.packed = packed.key = None
