"""What every torch module of a layer is: a `DarknetModule`, whose Darknet tensors are
attributes named as in the weights file (`biases`, `scales`, ...), dotted for nested
layers (`input_layer.biases`)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn


class DarknetModule(nn.Module):
    """A torch module with Darknet-named tensors (`biases`, `weights`, ...).

    `keeps_layout = True` declares that `forward` gives the same values for 4-D inputs in
    any memory format (channels_last included: no `.view` of 4-D activations); the model
    then keeps activations channels_last through it. Undeclared modules get NCHW inputs.
    """

    keeps_layout: ClassVar[bool] = False

    def darknet_tensor(self, name: str) -> Tensor:
        module_path, _, attr = name.rpartition(".")
        owner = self.get_submodule(module_path) if module_path else self
        return getattr(owner, attr)

    def load_darknet(self, name: str, values: np.ndarray) -> None:
        """Take one tensor read from the weights file (shape already natural): a writable
        float32 array of the right size is adopted as the tensor's storage (no copy; the
        Parameter object stays, so layers sharing it see it too); anything else is copied."""
        target = self.darknet_tensor(name)
        if values.size != target.numel():
            raise ValueError(f"{name}: {values.size} values for a tensor of {target.numel()}")
        with torch.no_grad():
            if _adoptable(values, target):
                target.data = torch.from_numpy(values).view(target.shape)
                return
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # read-only views are only read
                target.copy_(torch.from_numpy(np.ascontiguousarray(values)).view(target.shape))

    def finish_loading(self) -> None:
        """Hook run once after all tensors were loaded (e.g. to precompute)."""


def _adoptable(values: np.ndarray, target: Tensor) -> bool:
    return (values.flags.writeable and values.flags.c_contiguous and values.dtype == np.float32
            and values.dtype.isnative and target.dtype == torch.float32
            and target.device.type == "cpu")


def empty_parameter(*shape: int) -> nn.Parameter:
    """A parameter with no initialisation: the weights file overwrites it."""
    return nn.Parameter(torch.empty(shape), requires_grad=False)
