"""Verify a model layer by layer against the references (OpenCV DNN's Darknet importer,
CPU against CUDA): `verify` on the command line, the Verify tab in the app."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import torch

from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.model import DarknetModel, checked_model
from darknet_inspector.core.network import Network
from darknet_inspector.core.verify import (
    CUDA_COMPARE,
    CUDA_FORWARD,
    DEFAULT_TOLERANCE,
    OPENCV_COMPARE,
    OPENCV_FORWARD,
    OPENCV_LOAD,
    OURS,
    Step,
    VerifyReport,
    verify_input,
    verify_model_steps,
    verify_stages,
)
from darknet_inspector.core.verify import STAGE_TEXT as REFERENCE_STAGE_TEXT
from darknet_inspector.core.weights import LayerRecord, WeightsReader


@dataclass
class VerifyRequest:
    network: Network
    weights: str
    image: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    device: str | torch.device = "cpu"
    converted: str | None = None  # verify this converted .pt instead (same network)


@dataclass(frozen=True)
class VerifyProgress:
    """Where a verification is: its stage (MODEL, CONVERTED, INPUT, one of
    `core.verify.STAGE_TEXT`'s, DONE), that stage in words, and the fraction of the whole
    job done, 0..1, which never goes back and ends at 1.0."""

    stage: str
    text: str
    fraction: float


MODEL, CONVERTED, INPUT, DONE = "model", "converted", "input", "done"
STAGE_COST = {MODEL: 1, CONVERTED: 2, INPUT: 1, OPENCV_LOAD: 7, OPENCV_FORWARD: 36,
              OURS: 36, OPENCV_COMPARE: 20, CUDA_FORWARD: 40, CUDA_COMPARE: 20}
"""Each stage's share of the time, measured once on yolov4 (608x608, dog.jpg, random
weights, 2 shared CPU cores; 21.9 s in all): reading the weights and building our model
0.21 s, the input 0.12 s, OpenCV's load 1.48 s and forward 7.85 s, ours 7.89 s, the
per-layer comparison 4.39 s. The demo and yolo-fastest spend relatively more in our
forward pass (50-70 %). CPU vs CUDA (no GPU here) is estimated: one CPU forward pass
plus a faster CUDA one, then the same comparison."""
STAGE_TEXT = {MODEL: "reading the weights and building our model",
              CONVERTED: "loading the converted model", INPUT: "preparing the input",
              DONE: "done", **REFERENCE_STAGE_TEXT}


class StagePlan:
    """Turns steps of the planned stages into fractions of the whole job, weighted by
    STAGE_COST; a stage that is skipped (a reference that fails midway) is jumped over."""

    def __init__(self, stages: list[str]):
        self.start: dict[str, float] = {}
        at = 0.0
        for stage in stages:
            self.start[stage] = at
            at += STAGE_COST[stage]
        self.total = at
        self.fraction = 0.0

    def progress(self, stage: str, done: int = 0, total: int = 1) -> VerifyProgress:
        if stage in self.start and self.total > 0:
            part = STAGE_COST[stage] * min(done, total) / max(total, 1)
            self.fraction = max(self.fraction, (self.start[stage] + part) / self.total)
        if stage == DONE:
            self.fraction = 1.0
        text = STAGE_TEXT[stage] + (f" ({done} of {total} layers)" if total > 1 else "")
        return VerifyProgress(stage, text, self.fraction)


def verify(request: VerifyRequest) -> Generator[VerifyProgress, None, VerifyReport]:
    """Load the model from the weights file (or the converted .pt), then compare it with
    every reference; the references always read the weights file. Progress comes before
    each stage, after each layer read and after each layer compared; closing the generator
    there stops the verification."""
    network = request.network
    stages = [MODEL, *([CONVERTED] if request.converted else []), INPUT,
              *verify_stages(network)]
    plan = StagePlan(stages)
    model = yield from _built_model(network, request.weights, plan)
    if request.converted:
        yield plan.progress(CONVERTED)
        model = converted_model(request.converted, model)
    yield plan.progress(INPUT)
    x, described = verify_input(network, request.image)
    steps = verify_model_steps(model.to(request.device), request.weights, x, described,
                               request.tolerance, request.device)
    report = yield from _relabelled(steps, plan)
    yield plan.progress(DONE)
    return report


def _built_model(network: Network, weights: str, plan: StagePlan
                 ) -> Generator[VerifyProgress, None, DarknetModel]:
    """`checked_model`, a progress record after each layer read."""
    reader = WeightsReader(network, weights, copy=True)
    records: list[LayerRecord] = []
    total = len(network.layers)
    yield plan.progress(MODEL, 0, total)
    for record in reader.records():
        records.append(record)
        yield plan.progress(MODEL, len(records), total)
    return checked_model(network, weights, records, reader.header, reader.ledger)


def _relabelled(steps: Generator[Step, None, VerifyReport], plan: StagePlan
                ) -> Generator[VerifyProgress, None, VerifyReport]:
    """The references' steps as progress records of the whole job."""
    try:
        while True:
            try:
                step = next(steps)
            except StopIteration as stop:
                return stop.value
            yield plan.progress(step.stage, step.done, step.total)
    finally:
        steps.close()


def converted_model(path: str, loaded: DarknetModel) -> DarknetModel:
    """A converted .pt, which must describe the same network as the loaded model (same
    layers and shapes)."""
    from darknet_inspector.core.pt_file import load_pt

    converted = load_pt(path)
    ours = [(layer.type, layer.output_shape) for layer in converted.network.layers]
    theirs = [(layer.type, layer.output_shape) for layer in loaded.network.layers]
    if ours != theirs:
        raise UsageError("--model: its embedded cfg does not describe the network of CFG at "
                         "this size (layers or shapes differ)")
    return converted
