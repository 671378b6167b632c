"""The command line under attack: signals mid-write, special files as inputs, headers that
lie, tensors no .weights can hold, library warnings, huge names and odd file names: each
ends in one clear line (or a clean exit code), never a traceback or a leftover temp file."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from darknet_inspector.core import atomic
from darknet_inspector.core.cli import main, quiet_library_warnings
from tests.bad_inputs.corpus import BASE_CFG, HEADER, base_weights
from tests.conftest import ROOT
from tests.core.test_atomic import WrappedFile, leftovers


def one_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    return line


class SignalMidWrite(WrappedFile):
    """A file that sends this process `signum` once some bytes went through (the user
    pressing Ctrl+C, or `kill`, while torch writes the .pt zip)."""

    def __init__(self, real, signum: int):
        super().__init__(real)
        self._signum, self._sent = signum, False

    def write(self, data):
        if not self._sent and self._real.tell() > 100:
            self._sent = True
            os.kill(os.getpid(), self._signum)
        return self._real.write(data)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_a_pt_write_is_one_line_and_leaves_no_temp_file(
        base_model, tmp_path, monkeypatch, capsys, signum, code, word):
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen",
                        lambda fd, *a, **k: SignalMidWrite(real_fdopen(fd, *a, **k), signum))
    out = tmp_path / "out"
    out.mkdir()
    target = out / "m.pt"
    target.write_bytes(b"old")
    assert main(["convert", *base_model, "-o", str(target)]) == code
    assert one_line(capsys.readouterr().err) == f"darknet-inspector: {word}"
    assert target.read_bytes() == b"old"
    assert leftovers(out) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_fifo_as_weights_says_it_is_a_fifo(base_model, tmp_path, capsys):
    fifo = tmp_path / "pipe.weights"
    os.mkfifo(fifo)
    assert main(["inspect", base_model[0], str(fifo)]) == 2
    assert f"{fifo}: is a FIFO, not a weights file" in one_line(capsys.readouterr().err)


def test_a_character_device_as_weights_says_what_it_is(base_model, tmp_path, capsys):
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    zero = tmp_path / "zero"
    try:
        os.mknod(zero, stat.S_IFCHR | 0o666, os.makedev(1, 5))  # a private /dev/zero
    except PermissionError:
        pytest.skip("this container may not create device nodes")
    assert main(["convert", base_model[0], str(zero), "-o", str(tmp_path / "m.pt")]) == 2
    assert "is a character device, not a weights file" in one_line(capsys.readouterr().err)


def test_an_npy_header_claiming_a_huge_shape_is_refused_naming_the_file(base_model, tmp_path,
                                                                        capsys):
    x = tmp_path / "huge.npy"
    with open(x, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (3, 200000, 200000)})
        handle.write(b"\0" * 64)
    assert main(["dump", *base_model, "--input", str(x), "-o", str(tmp_path / "o.npz")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{x}: input shape [3, 200000, 200000] does not match" in line


def state_dict_file(folder: Path, change) -> str:
    import torch

    from darknet_inspector.core.weights import random_weights
    from tests.helpers import net_from_text

    state = {f"{layer}.{name}": torch.from_numpy(values.astype(np.float32))
             for (layer, name), values in random_weights(net_from_text(BASE_CFG)).items()}
    state["0.biases"] = change(state["0.biases"])
    path = folder / "state.pt"
    torch.save(state, path)
    return str(path)


@pytest.mark.parametrize("change, says", [
    (lambda t: t.to_sparse(), "is stored sparse_coo"),
    (lambda t: t.to(__import__("torch").complex64), "holds complex values (complex64)"),
])
def test_export_weights_refuses_tensors_weights_cannot_hold(base_model, tmp_path, capsys, change,
                                                            says):
    pt = state_dict_file(tmp_path, change)
    assert main(["export-weights", pt, "--cfg", base_model[0], "-o",
                 str(tmp_path / "o.weights")]) == 1
    err = capsys.readouterr().err
    assert says in err and "internal error" not in err
    assert not (tmp_path / "o.weights").exists()


def test_a_meta_tensor_is_refused():
    import torch

    from darknet_inspector.core.pt_file import unwritable_tensor

    assert "meta tensor" in unwritable_tensor(torch.empty(3, device="meta"))
    assert unwritable_tensor(torch.ones(3, dtype=torch.bfloat16)) is None


def test_export_weights_writes_bfloat16_exactly(base_model, tmp_path, capsys):
    import torch

    pt = state_dict_file(tmp_path, lambda t: t.to(torch.bfloat16))
    assert main(["export-weights", pt, "--cfg", base_model[0], "-o",
                 str(tmp_path / "o.weights")]) == 0


def test_library_warnings_are_silenced_in_the_cli():
    from PIL import Image

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_library_warnings()
        warnings.warn_explicit("bomb", Image.DecompressionBombWarning, "Image.py", 1,
                               module="PIL.Image")
        warnings.warn_explicit("Corrupt EXIF data", UserWarning, "TiffImagePlugin.py", 1,
                               module="PIL.TiffImagePlugin")
        np.linalg.norm(np.array([np.inf, 1e300]))
    assert seen == []


def test_diff_of_inf_weights_prints_no_numpy_warning(base_model, tmp_path):
    b = tmp_path / "b.weights"
    data = bytearray(base_weights())
    data[HEADER:HEADER + 16] = np.array([np.inf, 1e38, -1e38, np.inf], np.float32).tobytes()
    b.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "darknet_inspector", "diff", base_model[0],
                             base_model[1], str(b)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert "Warning" not in result.stderr, result.stderr


def test_a_newline_in_a_file_name_keeps_the_message_on_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "two\nlines.cfg")]) == 2
    assert "two\\nlines.cfg" in one_line(capsys.readouterr().err)


def test_a_huge_section_name_or_key_is_echoed_cut_short(tmp_path, capsys):
    cfg = tmp_path / "huge.cfg"
    cfg.write_text(BASE_CFG.replace("[maxpool]", "[" + "m" * 1_000_000 + "]").replace(
        "width=32", "w" * 500_000 + "=1\nwidth=32"))
    main(["inspect", str(cfg)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "1,000,000 characters" in text and "500,000 characters" in text
    assert len(text) < 20_000


def test_a_16_byte_header_over_a_20_byte_body_says_1_float_and_names_the_header(
        base_model, tmp_path, capsys):
    from darknet_inspector.core.weights import WeightsHeader

    body = base_weights()[HEADER:]
    path = tmp_path / "old.weights"
    path.write_bytes(WeightsHeader(0, 1, 0, 7).pack() + b"\0" * 4 + body)
    main(["inspect", base_model[0], str(path)])
    out = capsys.readouterr().out
    assert "1 float more" in out and "1 floats" not in out
    assert "16-byte header" in out


def test_inspect_of_a_huge_sparse_file_maps_nothing_whole(base_model, tmp_path):
    big = tmp_path / "huge.weights"
    big.write_bytes(base_weights())
    try:
        os.truncate(big, 100 * 2**30)  # 100 GB, sparse
    except OSError:
        pytest.skip("this file system cannot hold a 100 GB sparse file")
    limit = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30));"
             "import sys; from darknet_inspector.core.cli import main; "
             "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", limit, "inspect", base_model[0], str(big)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Cannot allocate memory" not in result.stderr and "out of memory" not in (
        result.stderr)
    assert "left over after the last layer" in result.stdout, result.stderr
