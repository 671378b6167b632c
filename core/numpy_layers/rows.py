"""Work split by output rows over a small thread pool: numpy's ufuncs and OpenBLAS's
sgemm (held to one thread by the engine) release the GIL, so row blocks run in parallel."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

BLOCK_ELEMENTS = 1 << 20
"""Largest im2col block (float32 elements, 4 MB): big enough for sgemm to run at speed,
small enough to stay in cache."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def row_blocks(rows: int, threads: int, row_elements: int) -> list[tuple[int, int]]:
    """[start, stop) row ranges of nearly equal size: two per thread, more when a block
    would hold over BLOCK_ELEMENTS (`row_elements` per output row), always a multiple of
    the threads so that each gets the same share."""
    count = max(2 * threads if threads > 1 else 1,
                math.ceil(rows * row_elements / BLOCK_ELEMENTS))
    count = math.ceil(count / threads) * threads
    count = max(1, min(rows, count))
    edges = [rows * i // count for i in range(count + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


_SCRATCH = threading.local()


def scratch(count: int) -> np.ndarray:
    """A float32 work buffer of `count` elements owned by the calling thread, reused by
    its next call (an im2col block): fresh memory for every block would be page-faulted
    in again each time, which a one-shot run (`detect`) pays in full."""
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size < count:
        buffer = np.empty(count, np.float32)
        _SCRATCH.buffer = buffer
    return buffer[:count]


class RowPool:
    """`threads` workers (default: the usable CPUs) running row blocks of one layer."""

    def __init__(self, threads: int | None = None):
        self.threads = max(1, threads or usable_cpus())
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def run(self, fn: Callable[[int, int], None], rows: int, row_elements: int) -> None:
        """`fn(start, stop)` over every block of `rows` output rows; returns when all ran
        (an exception in a block is raised here)."""
        blocks = row_blocks(rows, self.threads, row_elements)
        if self._pool is None or len(blocks) == 1:
            for start, stop in blocks:
                fn(start, stop)
            return
        for future in [self._pool.submit(fn, a, b) for a, b in blocks]:
            future.result()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`[fn(item) for item in items]`, run on the workers (in order)."""
        if self._pool is None:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
