"""Write files so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import errno
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
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Yield a temp file beside `path`; rename it into place only if the block succeeds.

    Until then `path` is untouched (an existing file keeps its contents); on any failure,
    Ctrl+C included, the temp file is removed. A device or FIFO at `path` is written into
    (`special_file_kind`), never replaced."""
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
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            _name_the_output(exc, path)
        raise
