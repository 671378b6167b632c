"""Write files so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO

DEFAULT_UMASK = 0o022


def current_umask() -> int:
    """The process umask, read without changing it (os.umask would race with threads)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return DEFAULT_UMASK


def final_mode(path: str) -> int:
    """Permissions the written file gets: those of the file it replaces, else what a plain
    `open(path, "w")` would give (0666 less the umask; a temp file starts at 0600)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Yield a temp file beside `path`; rename it into place only if the block succeeds.

    Until then `path` is untouched (an existing file keeps its contents); on any failure,
    Ctrl+C included, the temp file is removed."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(handle, mode) as out:
            yield out
            out.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), final_mode(path))
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
