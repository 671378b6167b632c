"""Inputs read on a thread while the caller does something else.

`convert` and `detect` spend their first 1.4 s in `import torch`, on one core; reading
a 258 MB weights file is plain I/O (the GIL is released while the kernel copies) and
decoding an image runs in Pillow's C code without the GIL, so both can use the other
core meanwhile (issue 15). No torch here: the whole point is to start before torch is
imported.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsHeader, WeightsReader

if TYPE_CHECKING:
    from PIL import Image

Result = TypeVar("Result")


class Ahead(Generic[Result]):
    """One piece of work (`_work`) on a daemon thread, started at once. `result()` waits
    for it and returns what it made, or raises what it raised. `close()` (also leaving a
    `with` block) asks it to stop (`_stop`, for work that can), waits for the thread and
    drops the result."""

    def __init__(self, name: str):
        self._stop = threading.Event()
        self._result: Result | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> Result | None:
        """The work; None when it stopped early because `_stop` was set."""
        raise NotImplementedError

    def _run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as exc:  # handed to the thread that asks for the result
            self._error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> Result:
        """What the work made, once the thread is done; what it raised, raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError(f"{self._thread.name}: closed before it finished")
        return self._result

    def close(self) -> None:
        """Stop the work (if it still runs), wait for the thread, drop what it made."""
        self._stop.set()
        self._thread.join()
        self._result = None

    def __enter__(self) -> Ahead[Result]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


@dataclass
class WeightsRead:
    """Every layer's record, the header and the ledger: what `checked_model` takes."""

    records: list[LayerRecord]
    header: WeightsHeader
    ledger: Ledger


class ReadAhead(Ahead[WeightsRead]):
    """Read a weights file on a thread (`WeightsReader(copy=True)`, so every tensor is an
    array of its own a model can adopt). Opening the file, its header and the memory
    check happen at once, on the caller's thread: a missing or foreign file fails here.
    Closed early, the thread stops after the layer it is reading and closes the file."""

    def __init__(self, network: Network, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._reader = WeightsReader(network, self.path, copy=True)
        super().__init__(f"read {os.path.basename(self.path)}")

    def _work(self) -> WeightsRead | None:
        records: list[LayerRecord] = []
        stream = self._reader.records()
        try:
            for record in stream:
                if self._stop.is_set():
                    return None
                records.append(record)
        finally:
            stream.close()  # closes the file, also when stopped early
        assert self._reader.ledger is not None  # set when the stream is exhausted
        return WeightsRead(records, self._reader.header, self._reader.ledger)

    def __enter__(self) -> ReadAhead:
        return self


class ImageAhead(Ahead["Image.Image"]):
    """Decode an image on a thread (`core.image.load_image`, Pillow imported there too);
    a bad image is its one-line UsageError, raised by `result()`."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        super().__init__(f"decode {os.path.basename(self.path)}")

    def _work(self) -> Image.Image:
        from darknet_inspector.core.image import load_image

        return load_image(self.path)

    def __enter__(self) -> ImageAhead:
        return self
