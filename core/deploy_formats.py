"""Deployment formats beside our .pt: ONNX and `torch.export` (.pt2), each self-checked.

Every export is checked the same way: reload the written file with the runtime a user
would deploy it with, run one input, and compare the head outputs with the in-memory
model (`ExportCheck.max_abs_diff`). ONNX files are run with onnxruntime when it is
installed (a dependency; a broken install says `pip install onnx onnxruntime`).

TorchScript (`torch.jit.trace`, load with `torch.jit.load`) is still written because
existing deployments read it, but PyTorch marks torch.jit as deprecated in favour of
`torch.export` (.pt2): the check notes that.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from darknet_inspector.core.atomic import atomic_write, special_file_kind
from darknet_inspector.core.errors import InspectorError, UsageError
from darknet_inspector.core.format_choice import (  # noqa: F401  (their home before)
    DEFAULT_OPSET,
    FORMAT_BY_EXTENSION,
    FORMATS,
    MAX_OPSET,
    MIN_OPSET,
    ONNX_EXTRA,
    check_opset,
    format_for_path,
    missing_for_format,
)
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.small_input import smallest_input

NON_FINITE = ("the outputs hold NaN or Inf, so no difference can be measured (the weights "
              "hold NaN/Inf values: `inspect` flags those tensors)")
TORCHSCRIPT_NOTE = ("TorchScript is deprecated by PyTorch in favour of torch.export; "
                    "prefer --format pt2 for new deployments")
INPUT_NAME = "input"


@dataclass
class ExportCheck:
    """How a written file was checked: the runtime used, and the largest absolute
    difference of its head outputs from the in-memory model (None: not run)."""

    format: str
    path: str
    outputs: list[str]
    max_abs_diff: float | None = None
    checked_with: str = ""
    batch: int = 1
    notes: list[str] = field(default_factory=list)
    input_size: tuple[int, int] | None = None  # (width, height) of the input run
    tensors_equal: int | None = None  # tensors compared bit for bit with the model's

    @property
    def ran(self) -> bool:
        return self.max_abs_diff is not None

    def agrees(self, tolerance: float = 1e-4) -> bool:
        return self.max_abs_diff is not None and self.max_abs_diff <= tolerance

    def summary(self) -> str:
        if self.max_abs_diff is None:
            return f"{self.format} not run after writing: " + "; ".join(self.notes)
        ran = f"reloaded with {self.checked_with}, {self.input_text()}"
        if math.isnan(self.max_abs_diff):
            return f"{ran}: {NON_FINITE}"
        return f"{ran}: max difference {self.max_abs_diff:.3g} from the in-memory model"

    def input_text(self) -> str:
        """What was compared: "every tensor (324) identical, batch 1 at 32x32"."""
        size = f" at {self.input_size[0]}x{self.input_size[1]}" if self.input_size else ""
        tensors = (f"every tensor ({self.tensors_equal}) identical, "
                   if self.tensors_equal is not None else "")
        return f"{tensors}batch {self.batch}{size}"


class HeadsOnly(nn.Module):
    """The model as deployed: one input tensor in, a tuple of head outputs out."""

    def __init__(self, model: DarknetModel):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model(x))


def head_names(model: DarknetModel) -> list[str]:
    """Output names: `<type>_<layer index>` per head (`yolo_30`, `region_31`, ...)."""
    layers = model.network.layers
    return [f"{layers[i].type}_{i}" for i in model.heads]


def example_input(model: DarknetModel, batch: int = 1, seed: int = 0,
                  size: tuple[int, int] | None = None) -> Tensor:
    """A reproducible input in Darknet's range (RGB in 0..1) of the network's size, or of
    `size` (width, height)."""
    generator = torch.Generator().manual_seed(seed)
    shape = model.network.input_shape
    if size is not None:
        shape = (shape[0], size[1], size[0])
    return torch.rand((batch, *shape), generator=generator)


def _max_difference(ours: list[Tensor], theirs: list[np.ndarray]) -> float:
    """The largest |difference| of the outputs; NaN when either side holds NaN or Inf
    (no difference can be measured then, and `max` would silently skip a NaN)."""
    if len(ours) != len(theirs):
        return float("inf")
    worst = 0.0
    for a, b in zip(ours, theirs):
        a_np = a.detach().cpu().float().numpy()
        b_np = np.asarray(b, dtype=np.float32)
        if a_np.shape != b_np.shape:
            return float("inf")
        if not (np.isfinite(a_np).all() and np.isfinite(b_np).all()):
            return math.nan
        worst = max(worst, float(np.abs(a_np - b_np).max(initial=0.0)))
    return worst


def _reference(model: DarknetModel, x: Tensor) -> list[Tensor]:
    with torch.no_grad():
        return list(model(x))


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """The exporters warn that shape checks become constants; every shape in a Darknet
    network is fixed by the cfg except the batch, so those warnings say nothing here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)
        yield


@contextlib.contextmanager
def _plain_layout(model: DarknetModel) -> Iterator[None]:
    """Trace in plain NCHW: channels_last is a CPU speed trick with no ONNX meaning."""
    before = model.channels_last
    model.channels_last = False
    try:
        yield
    finally:
        model.channels_last = before


# ---------------------------------------------------------------- ONNX

def export_onnx(model: DarknetModel, path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = False) -> None:
    """Write ONNX with input `input` (N, C, H, W) and one named output per head. Uses the
    TorchScript-based exporter (`dynamo=False`): the dynamo one needs onnxscript."""
    check_opset(opset)
    names = head_names(model)
    axes = {name: {0: "batch"} for name in (INPUT_NAME, *names)} if dynamic_batch else None
    buffer = io.BytesIO()
    model.eval()
    with _quiet_tracing(), _plain_layout(model), torch.no_grad():
        # `f` is annotated str | PathLike, but the TorchScript exporter (dynamo=False)
        # writes to any binary file object; a buffer keeps a failed export off the disk
        torch.onnx.export(HeadsOnly(model), (example_input(model),),
                          buffer,  # type: ignore[arg-type]
                          dynamo=False,
                          opset_version=opset, input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=axes, do_constant_folding=True)
    with atomic_write(path) as out:
        out.write(buffer.getvalue())


def check_onnx(model: DarknetModel, path: str | os.PathLike, batch: int = 1) -> ExportCheck:
    """Run the file with onnxruntime (CPU) and compare; without onnxruntime, validate it
    with `onnx.checker` when onnx is there, and say what was not done."""
    check = ExportCheck("onnx", os.fspath(path), head_names(model), batch=batch)
    try:
        import onnxruntime
    except ImportError:
        check.notes.append(f"onnxruntime is not installed, so the file was not run; "
                           f"{ONNX_EXTRA}")
        _validate_onnx_structure(check)
        return check
    x = example_input(model, batch, seed=1)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its shape-merge warnings (YOLO9000's
    # scatter-based tree softmax) are notes for ONNX authors, printed past our one line
    session = onnxruntime.InferenceSession(check.path, sess_options=options,
                                           providers=["CPUExecutionProvider"])
    theirs = session.run(check.outputs, {INPUT_NAME: x.numpy()})
    check.max_abs_diff = _max_difference(_reference(model, x), theirs)
    check.checked_with = f"onnxruntime {onnxruntime.__version__} (CPU)"
    return check


def _validate_onnx_structure(check: ExportCheck) -> None:
    try:
        import onnx
    except ImportError:
        check.notes.append("onnx is not installed either: the file was not validated")
        return
    onnx.checker.check_model(check.path)
    check.notes.append(f"onnx {onnx.__version__}: the graph is valid (onnx.checker)")


# ---------------------------------------------------------------- torch.export (.pt2)

def export_pt2(model: DarknetModel, path: str | os.PathLike, dynamic_batch: bool = False
               ) -> None:
    """Write a `torch.export` ExportedProgram (load with `torch.export.load(p).module()`).
    A dynamic batch is traced at batch 2: torch.export specialises sizes 0 and 1."""
    model.eval()
    x = example_input(model, 2 if dynamic_batch else 1)
    shapes = ({"x": {0: torch.export.Dim("batch", min=1, max=4096)}}
              if dynamic_batch else None)
    with _quiet_tracing(), torch.no_grad():
        program = torch.export.export(HeadsOnly(model), (x,), dynamic_shapes=shapes)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    with atomic_write(path) as out:
        out.write(buffer.getvalue())


def check_pt2(model: DarknetModel, path: str | os.PathLike, batch: int = 1) -> ExportCheck:
    check = ExportCheck("pt2", os.fspath(path), head_names(model), batch=batch)
    with _quiet_tracing():
        program = torch.export.load(check.path)
    x = example_input(model, batch, seed=1)
    with torch.no_grad():
        theirs = [t.numpy() for t in program.module()(x)]
    check.max_abs_diff = _max_difference(_reference(model, x), theirs)
    check.checked_with = f"torch.export.load (torch {torch.__version__})"
    return check


# ---------------------------------------------------------------- TorchScript

def export_torchscript(model: DarknetModel, path: str | os.PathLike) -> None:
    """Trace the heads-only model in NCHW and save it (`torch.jit.load` reads it)."""
    model.eval()
    buffer = io.BytesIO()
    with _quiet_tracing(), _plain_layout(model), torch.no_grad():
        traced = torch.jit.trace(HeadsOnly(model), (example_input(model),), check_trace=False)
        torch.jit.save(traced, buffer)
    with atomic_write(path) as out:
        out.write(buffer.getvalue())


def check_torchscript(model: DarknetModel, path: str | os.PathLike, batch: int = 1
                      ) -> ExportCheck:
    check = ExportCheck("torchscript", os.fspath(path), head_names(model), batch=batch)
    with _quiet_tracing():
        loaded = torch.jit.load(check.path, map_location="cpu")
    x = example_input(model, batch, seed=1)
    with _quiet_tracing(), torch.no_grad():
        theirs = [t.numpy() for t in loaded(x)]
    check.max_abs_diff = _max_difference(_reference(model, x), theirs)
    check.checked_with = f"torch.jit.load (torch {torch.__version__})"
    check.notes.append(TORCHSCRIPT_NOTE)
    return check


# ---------------------------------------------------------------- our .pt

def export_pt(model: DarknetModel, path: str | os.PathLike) -> ExportCheck | None:
    """Write our .pt and check it (`check_pt`) while it is flushed to disk, before it is
    renamed into place; None when it went into a device or pipe (nothing to read back)."""
    from darknet_inspector.core.pt_file import save_pt

    checks: list[ExportCheck] = []
    save_pt(model, path, lambda written: checks.append(check_pt(model, written, mapped=True)))
    if not checks:
        return None
    checks[0].path = os.fspath(path)
    return checks[0]


def check_pt(model: DarknetModel, path: str | os.PathLike, batch: int = 1,
             mapped: bool = False) -> ExportCheck:
    """Reload the file as a user would (`load_pt`); every tensor must be bit for bit the
    model's (that proves the weights), then one input of the smallest size the network
    accepts goes through both models (that proves the rebuilt structure). `mapped`: map
    the file instead of reading it (`load_pt`: a temp file only this process knows)."""
    from darknet_inspector.core.pt_file import load_pt

    check = ExportCheck("pt", os.fspath(path), head_names(model), batch=batch)
    check.checked_with = "darknet_inspector.core.pt_file.load_pt"
    reloaded = load_pt(path, adopt=True, mapped=mapped)
    compared, differing = _differing_tensors(model, reloaded)
    if differing:
        check.notes.append(f"{len(differing)} tensors differ from the model's, first "
                           f"{differing[0]}")
        check.max_abs_diff = math.inf
        return check
    check.tensors_equal = compared
    size = smallest_input(model.network)
    try:
        x = example_input(model, batch, seed=1, size=size)
        ours = _reference(model, x)
    except (RuntimeError, InspectorError):  # a module tied to the cfg's size
        size = (model.network.net.width, model.network.net.height)
        x = example_input(model, batch, seed=1, size=size)
        ours = _reference(model, x)
    check.input_size = size
    theirs = [t.numpy() for t in _reference(reloaded, x)]
    check.max_abs_diff = _max_difference(ours, theirs)
    return check


def _differing_tensors(model: DarknetModel, reloaded: DarknetModel) -> tuple[int, list[str]]:
    """How many tensors were compared, and `<layer>.<tensor>` of each whose shape or
    bytes differ (NaN equals NaN)."""
    theirs, mine = reloaded.darknet_tensors(), model.darknet_tensors()
    differing = []
    for (index, name), ours in mine.items():
        other = theirs.get((index, name))
        if (other is None or other.shape != ours.shape or other.dtype != ours.dtype
                or not torch.equal(_bytes(ours), _bytes(other))):
            differing.append(f"{index}.{name}")
    return len(mine), differing


def _bytes(tensor: Tensor) -> Tensor:
    """The tensor's bits as integers of its size (equal bits compare equal, NaN too)."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(BITS_OF_SIZE.get(flat.element_size(), torch.uint8))


BITS_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


# ---------------------------------------------------------------- one entry point

Checker = Callable[[DarknetModel, "str | os.PathLike", int], ExportCheck]
CHECKERS: dict[str, Checker] = {"pt": check_pt, "pt2": check_pt2, "onnx": check_onnx,
                                "torchscript": check_torchscript}


def export_model(model: DarknetModel, path: str | os.PathLike, fmt: str = "pt",
                 opset: int = DEFAULT_OPSET, dynamic_batch: bool = False) -> ExportCheck:
    """Write `model` as `fmt`, reload it and compare (at batch 2 when the batch is
    dynamic, so that the dynamic axis is exercised)."""
    if fmt not in CHECKERS:
        raise UsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    writers: dict[str, Callable[[], ExportCheck | None]] = {
        "pt": lambda: export_pt(model, path),  # checked before it is renamed into place
        "pt2": lambda: export_pt2(model, path, dynamic_batch),
        "onnx": lambda: export_onnx(model, path, opset, dynamic_batch),
        "torchscript": lambda: export_torchscript(model, path),
    }
    checked = writers[fmt]()
    kind = special_file_kind(os.fspath(path))
    if kind is not None:  # written into a device or pipe: nothing to reload
        return ExportCheck(fmt, os.fspath(path), head_names(model),
                           notes=[f"written into a {kind}, which cannot be read back"])
    check = checked or CHECKERS[fmt](model, path, 2 if dynamic_batch and fmt != "pt" else 1)
    if fmt == "pt" and dynamic_batch:
        check.notes.append("a .pt holds tensors, not a traced graph: any batch works")
    return check
