"""Every long operation as a generator: it yields progress records and returns a result.

The app runs a job on a worker thread (`gui.workers`: one signal per record, Cancel
between two records); the command line drives the same generator to its end with
`run_job`. One module per job family:

- `stream`     `stream_weights`: the weights file one layer at a time, tensor stats and
               health flags for each (`StreamStart`, then `StreamUpdate` per layer ->
               `StreamResult`); `read_streamed` runs it for the command line.
- `convert`    `convert_model`: read, load, (fold batch norm), write pt/pt2/onnx/
               torchscript, reload and compare (`ConvertProgress` -> `ConvertResult`).
- `detect`     `detect`: build the detector (batch norm folded, as Darknet's detector
               does), run one image (`str` steps -> `DetectOutcome`); `refilter`: new
               thresholds on cached candidates (-> `Drawn`).
- `verify`     `verify`: every layer against the references, stage by stage with the
               fraction done (`VerifyProgress` -> `VerifyReport`).
- `diff`       `diff`: two weights files of one cfg (`str` -> `WeightsDiff`).
- `write_back` `write_back`: our .pt (or a state_dict + cfg) -> .weights
               (`str` -> `WeightsSource`).
- `save`       `save_array`: one tensor as .npy, atomically (-> the path).

Nothing here imports torch or Qt at package level: `inspect` streams without torch.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Record = TypeVar("Record")
Result = TypeVar("Result")


def run_job(job: Generator[Record, None, Result],
            on_record: Callable[[Record], object] | None = None) -> Result:
    """Drive a job to its end (handing each record to `on_record`) and return its result."""
    while True:
        try:
            record = next(job)
        except StopIteration as stop:
            return stop.value
        if on_record is not None:
            on_record(record)
