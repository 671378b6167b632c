"""Tensor statistics measured in a child process, so that the app's GIL stays free.

The app streams a weights file on a worker thread. Measuring each tensor there
(`tensor_stats`: a dozen numpy calls with Python between them) kept that thread holding
the app's GIL for most of the stream; every Python callback of the UI thread (each cell
a repaint draws) waited for it, and far longer when the worker was descheduled while
holding it on busy cores (270-600 ms event-loop stalls, issue 15). Here a child process
(`python -m darknet_inspector.core.stats_process`) reads the same tensors from the file
and sends back their `TensorStats`; the app's worker only reads the values (plain reads,
the GIL released) and waits on a pipe.

The child imports numpy and `core.tensor_stats` only (never torch) and starts in about
0.1 s; `StatsChild.prestart()` starts one ahead, and a child whose stream ended
cleanly waits for the next one (`recycle`). Protocol over its stdin/stdout:
length-prefixed pickles. Request: `(path, dtype, [(layer, [(name, offset, shape), ...]),
...])`; replies: `(layer, {name: TensorStats})` per layer, in order, then `None`. A tensor
the child cannot read (the file changed) ends its replies early; the caller measures
what is missing itself, as it does when the child cannot start or dies.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, cast

import numpy as np

from darknet_inspector.core.tensor_stats import TensorStats, tensor_stats

TensorPlan = tuple[str, int, tuple[int, ...]]  # name, byte offset, shape
LayerPlan = tuple[int, Sequence[TensorPlan]]
LayerStats = tuple[int, dict[str, TensorStats]]
_LENGTH = struct.Struct("<Q")
MODULE = "darknet_inspector.core.stats_process"


def send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> object:
    """The next value, or EOFError when the other side has gone."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


def read_tensor(handle: io.FileIO, offset: int, shape: tuple[int, ...], dtype: np.dtype
                ) -> np.ndarray | None:
    """One tensor read straight into a new array; None when the file ends before it."""
    values = np.empty(shape, dtype)
    view = values.data.cast("B")
    handle.seek(offset)
    done = 0
    while done < view.nbytes:
        got = handle.readinto(view[done:])
        if not got:
            return None
        done += got
    return values


def measure(path: str, dtype: str, plan: Sequence[LayerPlan]) -> Iterator[LayerStats]:
    """What the child does: each planned layer's tensors read and measured, in order;
    stops at the first tensor the file no longer holds."""
    kind = np.dtype(dtype)
    with io.FileIO(path, "rb") as handle:
        for layer, tensors in plan:
            stats = {}
            for name, offset, shape in tensors:
                values = read_tensor(handle, offset, tuple(shape), kind)
                if values is None:
                    return
                stats[name] = tensor_stats(name, values)
            yield layer, stats


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: one request, its replies, `None`, and again until stdin ends."""
    while True:
        try:
            request = receive(requests)
        except EOFError:
            return
        path, dtype, plan = cast(tuple[str, str, list[LayerPlan]], request)
        try:
            for item in measure(path, dtype, plan):
                send(replies, item)
        except OSError:  # unreadable now: the caller measures what is missing itself
            pass
        send(replies, None)


def _child_environment() -> dict[str, str]:
    """This process's environment, with the folder holding `darknet_inspector` first on
    the child's path (a checkout, a bench script's sys.path, or site-packages)."""
    import darknet_inspector

    root = str(Path(darknet_inspector.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")  # numpy alone; nothing here uses threads
    return env


class StatsChild:
    """One child process measuring one stream's tensors (then it is closed)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=_child_environment(), close_fds=True)

    def request(self, path: str, dtype: str, plan: Sequence[LayerPlan]) -> None:
        assert self._process.stdin is not None
        send(self._process.stdin, (path, dtype, list(plan)))

    def replies(self) -> Iterator[LayerStats]:
        """Each layer's stats as the child sends them; ends at its `None` (or raises
        EOFError/OSError when the child has died)."""
        assert self._process.stdout is not None
        while True:
            item = receive(self._process.stdout)
            if item is None:
                return
            yield item  # type: ignore[misc]

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        """End the child now (mid-stream too) and reap it."""
        for stream in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        if self._process.poll() is None:
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)

    # -- one started ahead --------------------------------------------------------------
    _spare: StatsChild | None = None
    _lock = threading.Lock()

    @classmethod
    def prestart(cls) -> None:
        """Start a child now so that the next stream does not wait for its start."""
        with cls._lock:
            if cls._spare is None or not cls._spare.alive:
                with contextlib.suppress(OSError):
                    cls._spare = StatsChild()

    @classmethod
    def recycle(cls, child: StatsChild) -> None:
        """A child whose stream ended cleanly (its `None` received) waits for the next
        stream; one spare at most, the other is closed."""
        with cls._lock:
            if cls._spare is None and child.alive:
                cls._spare, child = child, None  # type: ignore[assignment]
        if child is not None:
            child.close()

    @classmethod
    def take(cls) -> StatsChild | None:
        """The spare child, or a new one; None when no child process starts here."""
        with cls._lock:
            child, cls._spare = cls._spare, None
        if child is not None and child.alive:
            return child
        try:
            return StatsChild()
        except OSError:
            return None

    @classmethod
    def close_spare(cls) -> None:
        with cls._lock:
            child, cls._spare = cls._spare, None
        if child is not None:
            child.close()


atexit.register(StatsChild.close_spare)


def main() -> int:
    replies = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # the real stdout carries the replies, nothing else
    serve(os.fdopen(os.dup(0), "rb"), replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
