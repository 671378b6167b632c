"""Convert and check: the one path from cfg + weights to a written, reloaded and compared
model file (`convert` on the command line, Convert... in the app)."""

from __future__ import annotations

import math
import os
from collections.abc import Generator
from dataclasses import dataclass

from darknet_inspector.core.deploy_formats import (
    DEFAULT_OPSET,
    NON_FINITE,
    ExportCheck,
    export_model,
)
from darknet_inspector.core.model import checked_model
from darknet_inspector.core.network import Network
from darknet_inspector.core.read_ahead import ReadAhead, WeightsRead
from darknet_inspector.core.weights import LayerRecord, WeightsReader


@dataclass
class ConvertOptions:
    output: str
    fuse: bool = False  # fold batch norm into the convolutions first
    format: str = "pt"  # pt | pt2 | onnx | torchscript (core.deploy_formats.FORMATS)
    dynamic_batch: bool = False
    opset: int = DEFAULT_OPSET  # onnx only


@dataclass
class ConvertProgress:
    step: str
    done: int
    total: int


@dataclass
class ConvertResult:
    """What was written and how it was checked (`check`: reloaded with the runtime a user
    would deploy it with, one input run, head outputs compared with the in-memory model)."""

    output: str
    format: str
    fused: bool
    layers: int
    parameters: int
    check: ExportCheck

    @property
    def max_diff(self) -> float | None:
        return self.check.max_abs_diff

    @property
    def notes(self) -> list[str]:
        return self.check.notes

    def summary(self) -> str:
        """One paragraph: where it went, what reloaded it, the largest difference."""
        folded = " Batch norm folded." if self.fused else ""
        notes = " ".join(f"Note: {m}." for m in self.notes)
        if self.max_diff is None:
            return f"Wrote {self.output}, but did not run it: {notes}"
        if math.isnan(self.max_diff):
            return f"Wrote {self.output}. Reloaded it and ran one input: {NON_FINITE}."
        return (f"Wrote {self.output}. Reloaded it with {self.check.checked_with} and ran one "
                f"input ({self.check.input_text()}): max |difference| to the in-memory "
                f"model over "
                f"{len(self.check.outputs)} output(s) = {self.max_diff:.3g}.{folded} "
                f"{notes}").strip()


def convert_model(network: Network, weights: str, options: ConvertOptions,
                  ahead: ReadAhead | None = None
                  ) -> Generator[ConvertProgress, None, ConvertResult]:
    """Read the weights layer by layer (or take them from `ahead`, a read already under
    way on a thread), load the model (ModelHasErrors if cfg and weights disagree), fold
    batch norm if asked, write the file, reload it and compare."""
    steps = len(network.layers) + 2
    read = yield from _read_weights(network, weights, ahead, steps)
    model = checked_model(network, weights, read.records, read.header, read.ledger)
    yield ConvertProgress("loading the model", steps - 1, steps)
    if options.fuse:
        model.fuse(in_place=True)  # its tensors were read for this model alone
    yield ConvertProgress(f"writing {os.path.basename(options.output)} and checking it",
                          steps, steps)
    check = export_model(model, options.output, options.format, options.opset,
                         options.dynamic_batch)
    return ConvertResult(options.output, options.format, options.fuse, len(network.layers),
                         network.param_count, check)


def _read_weights(network: Network, weights: str, ahead: ReadAhead | None, steps: int
                  ) -> Generator[ConvertProgress, None, WeightsRead]:
    """Every record, one progress step per layer; from `ahead` when it is given."""
    if ahead is not None:
        yield ConvertProgress("reading the weights", 0, steps)
        read = ahead.result()
        yield ConvertProgress("read the weights", len(read.records), steps)
        return read
    reader = WeightsReader(network, weights, copy=True)
    records: list[LayerRecord] = []
    for record in reader.records():
        records.append(record)
        yield ConvertProgress(f"reading layer {record.index}", len(records), steps)
    assert reader.ledger is not None  # set when the records are exhausted
    return WeightsRead(records, reader.header, reader.ledger)
