"""A weights file read on a thread while the caller does something else.

`convert` and `detect` spend their first 1.4 s in `import torch`, on one core; reading
a 258 MB weights file is plain I/O (the GIL is released while the kernel copies) and
can use the other core meanwhile (issue 15). No torch here: the whole point is to start
before torch is imported.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from types import TracebackType

from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsHeader, WeightsReader


@dataclass
class WeightsRead:
    """Every layer's record, the header and the ledger: what `checked_model` takes."""

    records: list[LayerRecord]
    header: WeightsHeader
    ledger: Ledger


class ReadAhead:
    """Read a weights file on a thread (`WeightsReader(copy=True)`, so every tensor is an
    array of its own a model can adopt). Opening the file, its header and the memory
    check happen at once, on the caller's thread: a missing or foreign file fails here.

    `result()` waits for the read and returns it, or raises what the read raised.
    `close()` (also leaving a `with` block) stops a read nobody will use: the thread stops
    after the layer it is reading, the file is closed, and the records are dropped."""

    def __init__(self, network: Network, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._reader = WeightsReader(network, self.path, copy=True)
        self._stop = threading.Event()
        self._read: WeightsRead | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="read weights", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        records: list[LayerRecord] = []
        stream = self._reader.records()
        try:
            for record in stream:
                if self._stop.is_set():
                    return
                records.append(record)
            assert self._reader.ledger is not None  # set when the stream is exhausted
            self._read = WeightsRead(records, self._reader.header, self._reader.ledger)
        except BaseException as exc:  # handed to the thread that asks for the result
            self._error = exc
        finally:
            stream.close()  # closes the file, also when stopped early

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> WeightsRead:
        """The whole read, once the thread is done; what the read raised, raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._read is None:
            raise RuntimeError(f"{self.path}: the read was closed before it finished")
        return self._read

    def close(self) -> None:
        """Stop the read (if it still runs), wait for the thread, drop what it read."""
        self._stop.set()
        self._thread.join()
        self._read = None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
