"""The torch side of detection: which torch devices there are, and the engine that runs a
DarknetModel on one for a Detector (core.detect), in float32 or float16 on CUDA."""

from __future__ import annotations

import copy

import numpy as np
import torch

from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.model import DarknetModel


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, in one line, or None when it can."""
    if torch.version.cuda is None:
        return (f"this PyTorch ({torch.__version__}) is built without CUDA support; "
                "install a CUDA build of torch to use a GPU")
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return (f"PyTorch (CUDA {torch.version.cuda}) finds no usable NVIDIA GPU: no device "
                "is visible or its driver is missing")
    return None


def resolve_device(spec: str | torch.device) -> torch.device:
    """`cpu`, `cuda`, `cuda:N` or `auto` -> a torch device; UsageError (one line) if the
    device is not there."""
    text = str(spec).strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda", 0) if cuda_unavailable_reason() is None else torch.device(
            "cpu")
    if text == "cuda" or text.startswith("cuda:"):
        reason = cuda_unavailable_reason()
        if reason:
            raise UsageError(f"cannot use device {spec!r}: {reason}")
        index_text = text.partition(":")[2] or "0"
        count = torch.cuda.device_count()
        if not index_text.isdigit() or int(index_text) >= count:
            raise UsageError(f"cannot use device {spec!r}: there are {count} CUDA devices "
                             f"(cuda:0 .. cuda:{count - 1})")
        return torch.device("cuda", int(index_text))
    raise UsageError(f"unknown device {spec!r}: use cpu, cuda, cuda:N or auto")


def available_devices() -> list[tuple[str, str | None]]:
    """Devices to offer: ("cpu", None), then ("cuda:N", None) each, or ("cuda", reason)."""
    devices: list[tuple[str, str | None]] = [("cpu", None)]
    reason = cuda_unavailable_reason()
    if reason:
        return devices + [("cuda", reason)]
    return devices + [(f"cuda:{i}", None) for i in range(torch.cuda.device_count())]


class TorchEngine:
    """A DarknetModel in eval mode on `device` (moved there, in place); `half`: float16 on
    CUDA, run again in float32 when the heads come out NaN/Inf."""

    name = "torch"

    def __init__(self, model: DarknetModel, device: str | torch.device = "cpu",
                 half: bool = False):
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model = model.eval().to(self.device)
        self.half = half and self.device.type == "cuda"
        self.notes: list[str] = []
        if half and not self.half:
            self.notes.append("half precision needs a CUDA device; running in float32")
        self._half_model: DarknetModel | None = None

    def forward(self, chw: np.ndarray, notes: list[str]) -> list[np.ndarray]:
        """One image's head outputs, (C, H, W) float32 numpy arrays on the CPU."""
        x = torch.from_numpy(chw)[None].to(self.device)
        return [o[0].float().cpu().numpy() for o in self._outputs(x, notes)]

    def _outputs(self, x: torch.Tensor, notes: list[str]) -> list[torch.Tensor]:
        with torch.inference_mode():
            if self.half:
                if self._half_model is None:
                    self._half_model = copy.deepcopy(self.model).half()
                outputs = [o.float() for o in self._half_model(x.half())]
                if all(bool(torch.isfinite(o).all()) for o in outputs):
                    return outputs
                notes.append("half precision gave NaN/Inf in the head outputs; "
                             "ran again in float32")
            return list(self.model(x))
