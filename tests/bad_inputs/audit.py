"""Which files a call opens, and how: a Python audit hook (installed once, idle unless
`recording()` is active)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


@dataclass(frozen=True)
class Opened:
    path: str
    mode: str | None
    flags: int

    @property
    def writes(self) -> bool:
        if self.mode is not None and any(c in self.mode for c in "wax+"):
            return True
        return self.mode is None and bool(self.flags & WRITE_FLAGS)


_log: list[Opened] | None = None


def _hook(event: str, args: tuple) -> None:
    if _log is not None and event == "open" and isinstance(args[0], (str, bytes)):
        path = os.fsdecode(args[0])
        _log.append(Opened(os.path.realpath(path), args[1], args[2] or 0))


sys.addaudithook(_hook)


@contextlib.contextmanager
def recording() -> Iterator[list[Opened]]:
    """Every file opened (by path) while the block runs."""
    global _log
    _log = opened = []
    try:
        yield opened
    finally:
        _log = None
