"""Layer-by-layer verification of a model against an independent implementation.

References: OpenCV DNN's Darknet importer reading the original .weights file (when OpenCV
is installed), and the same model on CUDA against CPU (when CUDA is present). For every
layer: the largest absolute difference and the relative one (that difference over the
largest magnitude of the reference's output), and the first layer whose relative
difference passes the tolerance. Where OpenCV itself computes a layer unlike Darknet
(`core.opencv_dnn.differs_from_darknet`), that layer and every layer fed by it are marked
"reference differs from Darknet here" and never count as divergent.

Each reference runs as a generator (`*_steps`) that yields a `Step` before each stage and
after each compared layer, so the verify job can report progress and stop there; the plain
functions run those generators to their end.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.network import Network

DEFAULT_TOLERANCE = 1e-3
SCALE_FLOOR = 1e-6
"""Below this largest magnitude a layer's output counts as zero (relative = absolute)."""

OK, DIVERGES = "ok", "diverges"
REFERENCE_DIFFERS = "reference differs"
AFTER_REFERENCE_DIFFERS = "after reference difference"
NOT_COMPARED = "not compared"
REFERENCE_FAILED = "reference failed"
UNVERIFIED = (NOT_COMPARED, REFERENCE_FAILED)
"""Statuses of layers nothing was checked for: never a pass."""
REFERENCE_BLOWUP = 1e12
"""A reference output this many times larger than ours (plus one) is a reference failure."""
REFERENCE_DIFFERS_NOTE = "reference differs from Darknet here"

OPENCV_LOAD, OPENCV_FORWARD, OURS, OPENCV_COMPARE = (
    "opencv_load", "opencv_forward", "ours", "opencv_compare")
CUDA_FORWARD, CUDA_COMPARE = "cuda_forward", "cuda_compare"
STAGE_TEXT = {
    OPENCV_LOAD: "loading the net into OpenCV",
    OPENCV_FORWARD: "OpenCV's forward pass",
    OURS: "our forward pass",
    OPENCV_COMPARE: "comparing with OpenCV layer by layer",
    CUDA_FORWARD: "our model on CPU and on CUDA",
    CUDA_COMPARE: "comparing CPU with CUDA layer by layer",
}
"""What each stage of a reference does, in words for a progress line."""


@dataclass(frozen=True)
class Step:
    """A verification is about to run `stage` (a key of STAGE_TEXT), `done` of its `total`
    parts done (layers, for the comparisons)."""

    stage: str
    done: int = 0
    total: int = 1


@dataclass
class LayerComparison:
    """One layer: how far our output is from the reference's, and what that means."""

    index: int
    type: str
    line: int
    status: str
    max_abs: float | None = None
    max_rel: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {"index": self.index, "type": self.type, "line": self.line,
                "status": self.status, "max_abs": self.max_abs, "max_rel": self.max_rel,
                "note": self.note}


@dataclass
class Comparison:
    """Our model against one reference; `available` False (with `note`) when it could
    not be run here."""

    reference: str
    name: str
    device: str
    tolerance: float
    available: bool = True
    note: str = ""
    layers: list[LayerComparison] = field(default_factory=list)

    @property
    def first_divergent(self) -> LayerComparison | None:
        return next((row for row in self.layers if row.status == DIVERGES), None)

    @property
    def reference_differs(self) -> list[LayerComparison]:
        return [row for row in self.layers if row.status == REFERENCE_DIFFERS]

    @property
    def unverified(self) -> list[LayerComparison]:
        """Layers not compared (no output, another size, a failed reference): not a pass."""
        return [row for row in self.layers if row.status in UNVERIFIED]

    def to_dict(self) -> dict:
        first = self.first_divergent
        return {"reference": self.reference, "name": self.name, "device": self.device,
                "available": self.available, "note": self.note, "tolerance": self.tolerance,
                "first_divergent": None if first is None else first.index,
                "layers": [row.to_dict() for row in self.layers]}


@dataclass
class VerifyReport:
    cfg: str
    weights: str
    input: str
    comparisons: list[Comparison]

    @property
    def ran(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.available]

    @property
    def diverges(self) -> bool:
        return any(c.first_divergent is not None for c in self.ran)

    @property
    def complete(self) -> bool:
        """Every layer of every reference that ran was compared (or explained)."""
        return not any(c.unverified for c in self.ran)

    def to_dict(self) -> dict:
        return {"cfg": self.cfg, "weights": self.weights, "input": self.input,
                "diverges": self.diverges, "complete": self.complete,
                "comparisons": [c.to_dict() for c in self.comparisons]}


# ---------------------------------------------------------------- input

def verify_input(network: Network, image: str | os.PathLike | None = None,
                 letterbox: bool | None = None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The input to compare on, (1, C, H, W) float32, and a description: the image as
    Darknet's `detector test` feeds it, or a reproducible random input in 0..1."""
    if image is None:
        rng = np.random.default_rng(seed)
        x = rng.uniform(0.0, 1.0, (1, *network.input_shape)).astype(np.float32)
        return x, f"random uniform 0..1 (seed {seed})"
    from darknet_inspector.core.image import (
        darknet_letterbox,
        darknet_resize,
        image_to_chw,
        load_image,
    )

    if network.net.channels != 3 or len(network.input_shape) != 3:
        raise UsageError(f"{image}: this network takes {list(network.input_shape)}, not an "
                         "RGB image; run verify without an image")
    boxed = network.net.letter_box if letterbox is None else letterbox
    resize = darknet_letterbox if boxed else darknet_resize
    chw = resize(image_to_chw(load_image(image)), network.net.width, network.net.height)
    how = "letterboxed" if boxed else "stretched"
    return chw[None].astype(np.float32), f"{os.fspath(image)} ({how} as Darknet does)"


# ---------------------------------------------------------------- comparing outputs

def difference(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray | None = None
               ) -> tuple[float, float]:
    """Largest absolute difference, and that over the reference's largest magnitude."""
    ours = ours.reshape(theirs.shape).astype(np.float64)
    theirs = theirs.astype(np.float64)
    gap = np.abs(ours - theirs)
    if mask is not None:
        gap = gap[mask]
    if not np.isfinite(ours).all() or not np.isfinite(theirs).all():
        return float("inf"), float("inf")
    largest = float(gap.max(initial=0.0))
    scale = float(np.abs(theirs).max(initial=0.0))
    return largest, largest / max(scale, SCALE_FLOOR)


def reference_failure(ours: np.ndarray, theirs: np.ndarray) -> str | None:
    """Why the reference's output is no reference at all (not finite, or astronomically
    larger than ours, where ours is finite), or None. Such a layer is not compared."""
    if not np.isfinite(ours).all():
        return None
    if not np.isfinite(theirs).all():
        return "the reference's output is not finite here (ours is): a reference failure"
    ours_top = float(np.abs(ours).max(initial=0.0))
    theirs_top = float(np.abs(theirs).max(initial=0.0))
    if theirs_top > REFERENCE_BLOWUP * (1.0 + ours_top):
        return (f"the reference's output reaches {theirs_top:.3g} where ours stays within "
                f"{ours_top:.3g}: a reference failure")
    return None


def taint(network: Network, differs: dict[int, str]) -> dict[int, int]:
    """Layers fed (directly or not) by a layer where the reference differs -> that layer."""
    source: dict[int, int] = {}
    for layer in network.layers:
        if layer.index in differs:
            continue
        for j in layer.inputs:
            if j >= 0 and (j in differs or j in source):
                source[layer.index] = j if j in differs else source[j]
                break
    return source


def compare_layers(network: Network, ours: list[np.ndarray], theirs: dict[int, np.ndarray],
                   tolerance: float, differs: dict[int, str] | None = None,
                   layout: Callable[[Layer, np.ndarray], np.ndarray] | None = None,
                   entries: Callable[[Layer, np.ndarray], np.ndarray] | None = None,
                   ) -> list[LayerComparison]:
    """One row per layer. `layout(layer, output)` maps our output to the reference's
    layout, `entries(layer, expected)` chooses which entries to compare."""
    return list(layer_rows(network, ours, theirs, tolerance, differs, layout, entries))


def layer_rows(network: Network, ours: list[np.ndarray], theirs: dict[int, np.ndarray],
               tolerance: float, differs: dict[int, str] | None = None,
               layout: Callable[[Layer, np.ndarray], np.ndarray] | None = None,
               entries: Callable[[Layer, np.ndarray], np.ndarray] | None = None,
               ) -> Iterator[LayerComparison]:
    """`compare_layers` one layer at a time: each row as soon as it is computed."""
    differs = differs or {}
    after = taint(network, differs)
    for layer in network.layers:
        row = _marked_row(layer, differs, after)
        expected = theirs.get(layer.index)
        if expected is None:
            if row.status == NOT_COMPARED:
                row.note = "the reference has no output for this layer"
        else:
            got = ours[layer.index] if layout is None else layout(layer, ours[layer.index])
            _measure(row, layer, got, expected, tolerance, entries)
        yield row


def _marked_row(layer: Layer, differs: dict[int, str], after: dict[int, int]
                ) -> LayerComparison:
    """A layer's row, marked when the reference differs from Darknet at it or before it."""
    row = LayerComparison(layer.index, layer.type, layer.line, NOT_COMPARED)
    if layer.index in differs:
        row.status = REFERENCE_DIFFERS
        row.note = f"{REFERENCE_DIFFERS_NOTE}: {differs[layer.index]}"
    elif layer.index in after:
        row.status = AFTER_REFERENCE_DIFFERS
        row.note = (f"{REFERENCE_DIFFERS_NOTE}: fed by layer {after[layer.index]}, where "
                    "the reference differs")
    return row


def _measure(row: LayerComparison, layer: Layer, got: np.ndarray, expected: np.ndarray,
             tolerance: float, entries: Callable[[Layer, np.ndarray], np.ndarray] | None
             ) -> None:
    """The differences of one layer's outputs into `row` (or why they are not compared)."""
    if got.size != expected.size:
        if row.status == NOT_COMPARED:
            row.note = f"the reference's output has {expected.size} values, ours {got.size}"
        return
    mask = None if entries is None else entries(layer, expected)
    failure = reference_failure(got, expected)
    if failure is not None and row.status == NOT_COMPARED:
        row.status, row.note = REFERENCE_FAILED, failure
        return
    row.max_abs, row.max_rel = difference(got, expected, mask)
    if row.status == NOT_COMPARED:
        row.status = OK if row.max_rel <= tolerance else DIVERGES


def all_outputs(model: DarknetModel, x: np.ndarray, device: torch.device | str = "cpu"
                ) -> list[np.ndarray]:
    """Every layer's output for the one sample in `x`, as float32 numpy (NCHW per layer)."""
    return run_job(all_outputs_steps(model, x, device, OURS))


def all_outputs_steps(model: DarknetModel, x: np.ndarray, device: torch.device | str,
                      stage: str) -> Generator[Step, None, list[np.ndarray]]:
    """`all_outputs`, a Step of `stage` after each layer: progress moves and a cancel
    lands within the forward pass, not only after it."""
    total = len(model.layers)
    outputs: list[np.ndarray] = []
    yield Step(stage, 0, total)
    with torch.no_grad():
        for index, output in model.outputs_in_turn(torch.from_numpy(x).to(device)):
            outputs.append(output[0].float().cpu().numpy())
            yield Step(stage, index + 1, total)
    return outputs


# ---------------------------------------------------------------- references

def compare_with_opencv(model: DarknetModel, weights: str | os.PathLike | bytes,
                        x: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                        device: torch.device | str = "cpu") -> Comparison:
    """Our model on `device` against OpenCV reading the same cfg and the weights file."""
    return run_job(compare_with_opencv_steps(model, weights, x, tolerance, device))


def opencv_blocker(network: Network) -> tuple[str | None, tuple[int, str] | None]:
    """Why OpenCV cannot run this network at all (or None), and the first layer its
    importer cannot load with the reason (None when it loads them all)."""
    from darknet_inspector.core import opencv_dnn

    reason = opencv_dnn.opencv_unavailable_reason()
    blocked = opencv_dnn.first_unloadable(network)
    if reason is None and blocked is not None and blocked[0] == 0:
        reason = f"OpenCV cannot load this cfg: {blocked[1]} (layer 0)"
    return reason, blocked


def compare_with_opencv_steps(model: DarknetModel, weights: str | os.PathLike | bytes,
                              x: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                              device: torch.device | str = "cpu"
                              ) -> Generator[Step, None, Comparison]:
    """`compare_with_opencv`, a Step before loading the net into OpenCV, before OpenCV's
    forward pass, before ours, and after each compared layer."""
    from darknet_inspector.core import opencv_dnn

    network = model.network
    version = opencv_dnn.opencv_version()
    comparison = Comparison(f"OpenCV DNN {version or ''}".strip(), "opencv", str(device),
                            tolerance)
    reason, blocked = opencv_blocker(network)
    if reason is not None:
        comparison.available = False
        comparison.note = reason
        return comparison
    import cv2

    yield Step(OPENCV_LOAD)
    text = network.cfg.text if blocked is None else opencv_dnn.cfg_text_before(
        network, blocked[0])
    text = opencv_dnn.opencv_cfg_text(text, network.net.width, network.net.height)
    data = weights if isinstance(weights, bytes) else _read_bytes(weights)
    try:
        net = opencv_dnn.read_opencv_net(text, opencv_dnn.compensate_bn_epsilon(network, data))
        yield Step(OPENCV_FORWARD)
        theirs = opencv_dnn.opencv_outputs(net, x)
    except cv2.error as exc:
        comparison.available = False
        comparison.note = f"OpenCV failed on this model: {str(exc).strip().splitlines()[-1]}"
        return comparison
    ours = yield from all_outputs_steps(model, x, device, OURS)
    differs = {layer.index: reason for layer in network.layers
               if (reason := opencv_dnn.differs_from_darknet(network, layer))}
    rows = layer_rows(network, ours, theirs, tolerance, differs,
                      layout=lambda layer, out: opencv_dnn.as_opencv(network, layer, out),
                      entries=opencv_dnn.compared_entries)
    comparison.layers = yield from _each_row(OPENCV_COMPARE, rows, len(network.layers))
    if blocked is not None:
        _mark_unloadable(comparison, *blocked)
    return comparison


def _each_row(stage: str, rows: Iterator[LayerComparison], total: int
              ) -> Generator[Step, None, list[LayerComparison]]:
    """Collect the rows of a comparison, a Step before the first and after each."""
    done: list[LayerComparison] = []
    yield Step(stage, 0, total)
    for row in rows:
        done.append(row)
        yield Step(stage, len(done), total)
    return done


def _mark_unloadable(comparison: Comparison, index: int, reason: str) -> None:
    """OpenCV ran the layers before `index` only: say so on that layer and after it."""
    comparison.note = (f"OpenCV cannot load layer {index} ({reason}); layers 0..{index - 1} "
                       "are compared, the rest are not")
    for row in comparison.layers[index:]:
        row.max_abs = row.max_rel = None
        row.status = REFERENCE_DIFFERS if row.index == index else NOT_COMPARED
        row.note = (f"{REFERENCE_DIFFERS_NOTE}: {reason}" if row.index == index else
                    f"OpenCV stops before layer {index}")


def _read_bytes(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"{os.fspath(path)}: cannot read weights ({exc.strerror or exc})"
                         ) from None


def compare_cpu_cuda(model: DarknetModel, x: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                     device: str = "cuda") -> Comparison:
    """The same model on CPU (reference) and on CUDA, TF32 off so both compute in float32."""
    return run_job(compare_cpu_cuda_steps(model, x, tolerance, device))


def compare_cpu_cuda_steps(model: DarknetModel, x: np.ndarray,
                           tolerance: float = DEFAULT_TOLERANCE, device: str = "cuda"
                           ) -> Generator[Step, None, Comparison]:
    """`compare_cpu_cuda`, a Step before the two forward passes and after each layer."""
    from darknet_inspector.core.torch_engine import cuda_unavailable_reason

    comparison = Comparison("our model on CPU", "cuda", device, tolerance)
    reason = cuda_unavailable_reason()
    if reason is not None:
        comparison.available = False
        comparison.note = f"CPU vs CUDA not compared: {reason}"
        return comparison
    cpu_model = model if _on_cpu(model) else copy.deepcopy(model).cpu()
    theirs = dict(enumerate((yield from all_outputs_steps(cpu_model, x, "cpu",
                                                          CUDA_FORWARD))))
    cuda_model = copy.deepcopy(cpu_model).to(device)
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        ours = all_outputs(cuda_model, x, device)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    network = model.network
    comparison.layers = yield from _each_row(
        CUDA_COMPARE, layer_rows(network, ours, theirs, tolerance), len(network.layers))
    return comparison


def _on_cpu(model: DarknetModel) -> bool:
    return all(t.device.type == "cpu" for t in model.parameters())


def verify_model(model: DarknetModel, weights: str | os.PathLike, x: np.ndarray,
                 input_text: str, tolerance: float = DEFAULT_TOLERANCE,
                 device: torch.device | str = "cpu", cuda: bool = True) -> VerifyReport:
    """Every available reference; the ones that cannot run say why in their note."""
    return run_job(verify_model_steps(model, weights, x, input_text, tolerance, device, cuda))


def verify_model_steps(model: DarknetModel, weights: str | os.PathLike, x: np.ndarray,
                       input_text: str, tolerance: float = DEFAULT_TOLERANCE,
                       device: torch.device | str = "cpu", cuda: bool = True
                       ) -> Generator[Step, None, VerifyReport]:
    """`verify_model`, yielding each reference's Steps (`verify_stages` lists them)."""
    comparisons = [(yield from compare_with_opencv_steps(model, weights, x, tolerance,
                                                          device))]
    if cuda:
        comparisons.append((yield from compare_cpu_cuda_steps(model, x, tolerance)))
    return VerifyReport(model.network.path, os.fspath(weights), input_text, comparisons)


def verify_stages(network: Network, cuda: bool = True) -> list[str]:
    """The stages `verify_model_steps` will run, in order: OpenCV's when OpenCV can load
    the network, CPU vs CUDA's when asked and a GPU is there. A reference failing midway
    skips the rest of its stages."""
    from darknet_inspector.core.torch_engine import cuda_unavailable_reason

    stages: list[str] = []
    if opencv_blocker(network)[0] is None:
        stages += [OPENCV_LOAD, OPENCV_FORWARD, OURS, OPENCV_COMPARE]
    if cuda and cuda_unavailable_reason() is None:
        stages += [CUDA_FORWARD, CUDA_COMPARE]
    return stages


# ---------------------------------------------------------------- text

def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def comparison_to_text(comparison: Comparison) -> str:
    title = f"against {comparison.reference} (ours on {comparison.device})"
    if not comparison.available:
        return f"{title}: not run: {comparison.note}"
    lines = [f"{title}, tolerance {comparison.tolerance:g} relative:"]
    if comparison.note:
        lines.append(f"  note: {comparison.note}")
    lines.append(f"  {'layer':>5} {'type':<14} {'line':>5} {'max abs':>10} {'max rel':>10}  "
                 "status")
    for row in comparison.layers:
        status = row.status + (f" ({row.note})" if row.note else "")
        lines.append(f"  {row.index:>5} {row.type:<14} {row.line:>5} "
                     f"{_number(row.max_abs):>10} {_number(row.max_rel):>10}  {status}")
    first = comparison.first_divergent
    unverified = comparison.unverified
    if first is None and unverified:
        lines.append(f"  no compared layer diverges, but {len(unverified)} of "
                     f"{len(comparison.layers)} layers were not compared: "
                     + "; ".join(f"{r.index} ({r.note})" for r in unverified[:5])
                     + ("; ..." if len(unverified) > 5 else ""))
    elif first is None:
        lines.append("  no layer diverges beyond the tolerance")
    else:
        lines.append(f"  first divergent layer: {first.index} ([{first.type}], cfg line "
                     f"{first.line}), relative difference {first.max_rel:.3g}")
    differs = comparison.reference_differs
    if differs:
        lines.append(f"  {len(differs)} layers where the reference itself differs from "
                     "Darknet (not counted): " + ", ".join(str(r.index) for r in differs))
    return "\n".join(lines)


def verify_text(report: VerifyReport) -> str:
    lines = [f"verify {report.cfg} with {report.weights}", f"input: {report.input}"]
    lines += [comparison_to_text(c) for c in report.comparisons]
    return "\n".join(lines)
