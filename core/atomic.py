"""Write files so that a failure never leaves a half-written file behind.

Two promises, both kept by `atomic_write`: a failure (an exception, Ctrl+C, a killed
process) never leaves a half-written output, because the output appears only by renaming
a finished temp file; and a power loss or OS crash never leaves one either, because the
temp file is flushed to disk (fsync) before that rename. Without the fsync, the rename can
reach the disk before the data does, and after a crash the output is an empty or partial
file under the final name. The fsync stays: it costs wall time (0.3-0.5 s for a 258 MB
model on the project's VM), not CPU, so a writer that checks what it wrote runs the check
while the fsync waits for the disk (`atomic_write(..., check=...)`, issue 15).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
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


NAME_MAX = 255
"""Longest file name (bytes) most Linux file systems take; the temp name must fit too."""
TEMP_PREFIX = ".tmp-"
_TEMP_EXTRA = len(TEMP_PREFIX) + 8  # mkstemp adds 8 random characters
_WRITE_FAILURES = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS}


def temp_suffix(name: str) -> str:
    """The output's name as the temp file's suffix, cut so that the whole temp name still
    fits NAME_MAX bytes (a 250-character output name must work)."""
    room = NAME_MAX - _TEMP_EXTRA
    encoded = os.fsencode(name)
    if len(encoded) <= room:
        return name
    return os.fsdecode(encoded[-room:].decode("utf-8", "ignore").encode("utf-8"))


def special_file_kind(path: str) -> str | None:
    """What `path` is when it exists and is neither a regular file nor a folder (a device,
    a FIFO, a socket): such a target is written into, never replaced by a rename."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISBLK(mode):
        return "block device"
    return "socket" if stat.S_ISSOCK(mode) else "special file"


@contextlib.contextmanager
def _write_into(path: str, kind: str, mode: str) -> Iterator[IO]:
    """Stream into a character device or a FIFO (`-o /dev/null`, `-o /dev/stdout`): it
    stays what it is. A FIFO with no reader, a block device or a socket is refused."""
    if kind == "FIFO":
        try:
            handle = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise OSError(errno.ENXIO, "is a FIFO that nobody reads; refusing to wait "
                              "for a reader", path) from None
            raise
        os.set_blocking(handle, True)
    elif kind == "character device":
        handle = os.open(path, os.O_WRONLY)
    else:
        raise OSError(errno.EINVAL, f"is a {kind}, not a file; refusing to write into it "
                      "or replace it", path)
    with os.fdopen(handle, mode) as out:
        yield out
        out.flush()


def _name_the_output(exc: OSError, path: str) -> None:
    """Errors name the output the user asked for, never the hidden temp file; a write
    failure without a name (disk full, file too large) gets the output's name."""
    hidden = os.path.basename(os.fsdecode(exc.filename or "")).startswith(TEMP_PREFIX)
    if hidden or (exc.filename is None and exc.errno in _WRITE_FAILURES):
        exc.filename = path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb",
                 check: Callable[[str], object] | None = None) -> Iterator[IO]:
    """Yield a temp file beside `path`; rename it into place only if the block succeeds.

    Until then `path` is untouched (an existing file keeps its contents); on any failure,
    Ctrl+C included, the temp file is removed. The temp file reaches the disk (fsync)
    before the rename (see the module's docstring). `check`, when given, is called with
    the finished temp file's name while the fsync runs on a thread (reading it back costs
    no wait for the disk); the rename happens only if it returns, so an exception from it
    leaves `path` untouched too. A device or FIFO at `path` is written into
    (`special_file_kind`), never replaced, and `check` is not called: nothing can be read
    back."""
    path = os.fspath(path)
    kind = special_file_kind(path)
    if kind is not None:
        try:
            with _write_into(path, kind, mode) as out:
                yield out
        except OSError as exc:
            _name_the_output(exc, path)
            raise
        return
    folder = os.path.dirname(os.path.abspath(path))
    tmp: str | None = None
    try:
        handle, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX,
                                       suffix=temp_suffix(os.path.basename(path)), dir=folder)
        with os.fdopen(handle, mode) as out:
            yield out
            out.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), final_mode(path))
            _sync_while_checking(out.fileno(), tmp, check)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            _name_the_output(exc, path)
        raise


def _sync_while_checking(handle: int, tmp: str, check: Callable[[str], object] | None
                         ) -> None:
    """fsync the finished temp file; with a `check`, run it meanwhile on this thread (the
    fsync waits in the kernel, without the GIL). The fsync is always waited for, also when
    the check fails, so that the file is closed only once it is done with."""
    if check is None:
        os.fsync(handle)
        return
    failed: list[OSError] = []

    def sync() -> None:
        try:
            os.fsync(handle)
        except OSError as exc:
            failed.append(exc)

    syncing = threading.Thread(target=sync, name="atomic_write fsync", daemon=True)
    syncing.start()
    try:
        check(tmp)
    finally:
        syncing.join()
    if failed:
        raise failed[0]
