"""Outputs that are not plain files, and names: `-o` onto a device or a FIFO writes into it
or refuses, never renames a file over it; errors name the output, not the hidden temp file;
a 250-character output name works."""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from darknet_inspector.core import atomic
from darknet_inspector.core.atomic import NAME_MAX, atomic_write
from darknet_inspector.core.cli import main
from tests.core.test_atomic import DiskFull, leftovers


def private_null(folder: Path) -> Path:
    """A character device like /dev/null (1, 3) in a private folder (never the system's)."""
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    node = folder / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this container may not create device nodes")
    return node


def test_convert_onto_a_character_device_writes_into_it(base_model, tmp_path, capsys):
    node = private_null(tmp_path)
    assert main(["convert", *base_model, "-o", str(node)]) == 0
    assert stat.S_ISCHR(node.stat().st_mode)  # still the device, not a 4.5 KB file
    assert leftovers(tmp_path) == []


def test_a_fifo_without_reader_is_refused_and_stays_a_fifo(base_model, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["convert", *base_model, "-o", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert f"{fifo}: is a FIFO that nobody reads" in err and len(err.splitlines()) == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert leftovers(tmp_path) == []


def test_a_fifo_with_a_reader_receives_the_output(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    ready = threading.Event()

    def read() -> None:  # non-blocking: EOF before the writer came is no end yet
        handle = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        ready.set()
        data, deadline = b"", time.monotonic() + 10
        while data != b"streamed" and time.monotonic() < deadline:
            try:
                data += os.read(handle, 100)
            except BlockingIOError:
                pass
            time.sleep(0.01)
        os.close(handle)
        received.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    ready.wait(5)
    with atomic_write(fifo) as out:
        out.write(b"streamed")
    reader.join(5)
    assert received == [b"streamed"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_socket_target_is_refused_naming_it(tmp_path):
    import socket

    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(OSError, match="is a socket") as caught, atomic_write(path):
            pass
        assert caught.value.filename == str(path)
    finally:
        server.close()


def test_a_250_character_output_name_works(base_model, tmp_path):
    target = tmp_path / ("m" * 247 + ".pt")
    assert len(target.name) == 250
    assert main(["convert", *base_model, "-o", str(target)]) == 0
    assert target.stat().st_size > 0
    assert leftovers(tmp_path) == []


def test_the_temp_name_never_exceeds_name_max():
    for name in ("a" * 255, "é" * 127 + ".pt", "short.pt"):
        assert len(os.fsencode(".tmp-12345678" + atomic.temp_suffix(name))) <= NAME_MAX


def test_a_read_only_folder_names_the_output_not_the_temp_file(base_model, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["convert", *base_model, "-o", str(folder / "out.pt")]) == 2
    finally:
        folder.chmod(0o755)
    err = capsys.readouterr().err
    assert f"{folder / 'out.pt'}: Permission denied" in err and ".tmp-" not in err


def test_the_temp_file_failing_to_open_names_the_output(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".tmp-xyz"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as caught, atomic_write(tmp_path / "out.bin"):
        pass
    assert caught.value.filename == str(tmp_path / "out.bin")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_disk_full_and_file_too_large_name_the_output(base_model, tmp_path, monkeypatch, capsys,
                                                      code):
    real_fdopen = os.fdopen

    class Failing(DiskFull):
        def write(self, data):
            raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "fdopen",
                        lambda fd, *a, **k: Failing(real_fdopen(fd, *a, **k), 0))
    target = tmp_path / "out.pt"
    assert main(["convert", *base_model, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"{target}: {os.strerror(code)}" in err
    assert leftovers(tmp_path) == []
