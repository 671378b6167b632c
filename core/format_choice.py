"""Which file format an output gets, and whether it can be written here: what `convert`
and the Convert dialog check before any model is loaded. No torch (issue 15: `convert`
checks its arguments and starts reading the weights while torch is still importing);
the writers and their checks are in `core.deploy_formats`."""

from __future__ import annotations

import importlib.util
import os

from darknet_inspector.core.errors import UsageError

DEFAULT_OPSET = 17
"""Opset 17: run by onnxruntime >= 1.13, TensorRT >= 8.6 and OpenVINO; Resize (upsample)
needs >= 11, and the TorchScript-based exporter used here stops at 20."""
MIN_OPSET, MAX_OPSET = 11, 20
FORMATS = ("pt", "pt2", "onnx", "torchscript")
ONNX_EXTRA = "pip install onnx onnxruntime"
FORMAT_BY_EXTENSION = {".pt": "pt", ".pth": "pt", ".pt2": "pt2", ".onnx": "onnx",
                       ".ts": "torchscript", ".torchscript": "torchscript"}


def format_for_path(path: str, requested: str | None = None) -> str:
    """The format to write `path` in: `requested`, else what its extension says (`pt` for
    an extension that says nothing). A requested format the extension contradicts (an
    .onnx path with pt) is a UsageError: the file would lie about what it holds."""
    lower = path.lower()
    implied = ("torchscript" if lower.endswith(".torchscript.pt")
               else FORMAT_BY_EXTENSION.get(os.path.splitext(lower)[1]))
    if requested is None:
        return implied or "pt"
    if implied is not None and implied != requested:
        raise UsageError(f"{path}: the extension says {implied} but the format is "
                         f"{requested}; change one of them")
    return requested


def missing_for_format(fmt: str) -> str | None:
    """Why `fmt` cannot be written here ("needs onnx: pip install ..."), or None. Only
    ONNX needs packages beyond torch; they are dependencies, so this is a broken install."""
    if fmt != "onnx" or importlib.util.find_spec("onnx") is not None:
        return None
    return f"ONNX export needs the onnx package: {ONNX_EXTRA}"


def check_opset(opset: int) -> int:
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UsageError(f"--opset {opset}: use an ONNX opset between {MIN_OPSET} and "
                         f"{MAX_OPSET} (default {DEFAULT_OPSET})")
    return opset
