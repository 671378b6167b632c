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
cleanly waits for the next one (`recycle`). A tensor the child cannot read (the file
changed) ends its replies early; the caller measures what is missing itself, as it does
when the child cannot start, dies or sends something malformed.

Protocol over its stdin/stdout, nothing pickled or evaluated (`send` / `receive`): each
message is an 8-byte little-endian length, that many bytes of a UTF-8 JSON object (the
header), then the raw bytes of the arrays its `"arrays"` entry lists (`[[dtype, shape],
...]`, dtypes from `ARRAY_DTYPES` only), one after another, C order.
- Request: `{"path": str, "dtype": "<f4", "plan": [[layer, [[name, offset, shape], ...]],
  ...]}` (`LayerPlan`s).
- Reply, one per layer in plan order: `{"layer": int, "stats": {name: {field: value}}}`
  where each `TensorStats` field is a JSON number (NaN/Infinity as Python's json writes
  them), null, or `{"array": i}`, the i-th array of the message.
- End of the replies to one request: `{"end": true}`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import io
import json
import math
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from darknet_inspector.core.tensor_stats import TensorStats, tensor_stats

TensorPlan = tuple[str, int, tuple[int, ...]]  # name, byte offset, shape
LayerPlan = tuple[int, Sequence[TensorPlan]]
LayerStats = tuple[int, dict[str, TensorStats]]
_LENGTH = struct.Struct("<Q")
MODULE = "darknet_inspector.core.stats_process"


MAX_HEADER = 1 << 24  # bytes: a yolov4 request is ~30 KB
MAX_ARRAY_BYTES = 1 << 30
ARRAY_DTYPES = frozenset({"<f4", "<f8", "<i8", "<i4", "<u8", "<u4", "|u1", "|b1"})
"""The only array dtypes a message may carry (numbers; never objects)."""
_STATS_FIELDS = {f.name for f in dataclasses.fields(TensorStats)}


class ProtocolError(ValueError):
    """A message that does not follow the protocol (the other side is not ours, or broke)."""


def send(stream: IO[bytes], header: dict, arrays: Sequence[np.ndarray] = ()) -> None:
    """One message: `header` as JSON, listing `arrays`, then their bytes."""
    blobs = [np.ascontiguousarray(a) for a in arrays]
    if blobs:
        header = dict(header, arrays=[[a.dtype.str, list(a.shape)] for a in blobs])
    data = json.dumps(header, separators=(",", ":")).encode()
    stream.write(b"".join([_LENGTH.pack(len(data)), data, *(a.tobytes() for a in blobs)]))
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return data


def receive(stream: IO[bytes]) -> tuple[dict, list[np.ndarray]]:
    """The next message's header and arrays; EOFError when the other side has gone,
    ProtocolError when what came is not a message of this protocol."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _LENGTH.unpack(head)
    if size > MAX_HEADER:
        raise ProtocolError(f"a {size}-byte header")
    try:
        header = json.loads(_read_exactly(stream, size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"a header that is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not a JSON object")
    arrays = [_read_array(stream, entry) for entry in header.get("arrays", ())]
    return header, arrays


def _read_array(stream: IO[bytes], entry: object) -> np.ndarray:
    if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in ARRAY_DTYPES
            and isinstance(entry[1], list)
            and all(isinstance(n, int) and n >= 0 for n in entry[1])):
        raise ProtocolError(f"an array entry {entry!r:.80}")
    dtype, shape = np.dtype(entry[0]), tuple(entry[1])
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise ProtocolError(f"a {size}-byte array")
    return np.frombuffer(bytearray(_read_exactly(stream, size)), dtype).reshape(shape)


def encode_stats(stats: dict[str, TensorStats]) -> tuple[dict, list[np.ndarray]]:
    """A layer's stats as JSON fields and the arrays they point to."""
    arrays: list[np.ndarray] = []
    encoded: dict[str, dict] = {}
    for name, one in stats.items():
        fields: dict[str, object] = {}
        for key in _STATS_FIELDS:
            value = getattr(one, key)
            if isinstance(value, np.ndarray):
                fields[key] = {"array": len(arrays)}
                arrays.append(value)
            else:
                fields[key] = value.item() if isinstance(value, np.generic) else value
        encoded[name] = fields
    return encoded, arrays


def decode_stats(encoded: object, arrays: list[np.ndarray]) -> dict[str, TensorStats]:
    """`encode_stats` undone; ProtocolError for anything but its own output."""
    if not isinstance(encoded, dict):
        raise ProtocolError("stats that are not a JSON object")
    stats = {}
    for name, fields in encoded.items():
        if not isinstance(fields, dict) or fields.keys() != _STATS_FIELDS:
            raise ProtocolError(f"stats of {name!r:.80} with other fields than TensorStats")
        values: dict[str, object] = {}
        for key, value in fields.items():
            if isinstance(value, dict):
                index = value.get("array")
                if not (isinstance(index, int) and 0 <= index < len(arrays)):
                    raise ProtocolError(f"{name}.{key} points to no array")
                value = arrays[index]
            elif not (value is None or isinstance(value, (int, float))):
                raise ProtocolError(f"{name}.{key} is not a number")
            values[key] = value
        stats[name] = TensorStats(**values)  # type: ignore[arg-type]
    return stats


def parse_request(header: dict) -> tuple[str, str, list[LayerPlan]]:
    """A request's path, dtype and plan, checked; ProtocolError otherwise."""
    path, dtype, plan = header.get("path"), header.get("dtype"), header.get("plan")
    if not (isinstance(path, str) and dtype in ARRAY_DTYPES and isinstance(plan, list)):
        raise ProtocolError("a request without path, dtype and plan")
    layers: list[LayerPlan] = []
    for item in plan:
        try:
            layer, tensors = item
            checked = [(str(name), int(offset), tuple(int(n) for n in shape))
                       for name, offset, shape in tensors]
        except (TypeError, ValueError):
            raise ProtocolError(f"a plan entry {item!r:.80}") from None
        layers.append((int(layer), checked))
    return path, dtype, layers


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
    """The child's loop: one request, its replies, the end mark, and again until stdin
    ends (or brings something that is not a request)."""
    while True:
        try:
            path, dtype, plan = parse_request(receive(requests)[0])
        except (EOFError, ProtocolError):
            return
        try:
            for layer, stats in measure(path, dtype, plan):
                encoded, arrays = encode_stats(stats)
                send(replies, {"layer": layer, "stats": encoded}, arrays)
        except OSError:  # unreadable now: the caller measures what is missing itself
            pass
        send(replies, {"end": True})


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
        send(self._process.stdin, {"path": path, "dtype": dtype,
                                   "plan": [[layer, [[name, offset, list(shape)]
                                                     for name, offset, shape in tensors]]
                                            for layer, tensors in plan]})

    def replies(self) -> Iterator[LayerStats]:
        """Each layer's stats as the child sends them; ends at its end mark (or raises
        EOFError/OSError when the child has died, ProtocolError when it sent something
        malformed)."""
        assert self._process.stdout is not None
        while True:
            header, arrays = receive(self._process.stdout)
            if header.get("end") is True:
                return
            layer = header.get("layer")
            if not isinstance(layer, int):
                raise ProtocolError("a reply without its layer")
            yield layer, decode_stats(header.get("stats"), arrays)

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
        """A child whose stream ended cleanly (its end mark received) waits for the next
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
