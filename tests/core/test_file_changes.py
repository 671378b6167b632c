"""A weights file that shrinks while it is read (Darknet rewrites `*_last.weights` during
training) is one line, "X changed while it was read", never SIGBUS (exit 135): no reader
memory-maps a weights file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.weights import FileSlices
from tests.conftest import ROOT
from tests.helpers import net_from_text, write_random_weights

SIGBUS = 7
PAGES_CFG = """[net]
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=128
size=3
pad=1
activation=leaky

[convolutional]
filters=128
size=3
pad=1
activation=leaky
"""
"""About 600 KB of weights: a memory map of it faults beyond its first page once the
file is cut to 40 bytes (a file within one page would read zeros, not SIGBUS)."""

SHRINK_AFTER_OPEN = textwrap.dedent("""
    import os, sys
    from darknet_inspector.core import weights
    from darknet_inspector.core.cli import main

    opened = weights.WeightsReader.__init__

    def open_then_shrink(self, network, path, *args, **kwargs):
        opened(self, network, path, *args, **kwargs)
        os.truncate(path, 40)  # another process rewrites the file under us

    weights.WeightsReader.__init__ = open_then_shrink
    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture
def model(tmp_path) -> tuple[str, str, str]:
    cfg, a, b = tmp_path / "m.cfg", tmp_path / "a.weights", tmp_path / "b.weights"
    cfg.write_text(PAGES_CFG)
    write_random_weights(net_from_text(PAGES_CFG), a, seed=1)
    write_random_weights(net_from_text(PAGES_CFG), b, seed=2)
    return str(cfg), str(a), str(b)


def run_shrinking(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SHRINK_AFTER_OPEN, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["diff", "inspect"])
def test_a_weights_file_shrinking_while_read_is_one_line_not_sigbus(model, command):
    cfg, a, b = model
    argv = [command, cfg, a, b] if command == "diff" else [command, cfg, a]
    result = run_shrinking(*argv)
    assert result.returncode not in (-SIGBUS, 128 + SIGBUS), result.stderr
    assert result.returncode == 2, result.stderr
    assert f"{a} changed while it was read" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_file_slices_say_the_file_changed_when_it_shrank(tmp_path):
    path = tmp_path / "w.weights"
    path.write_bytes(bytes(range(200)))
    with open(path, "rb") as handle:
        data = FileSlices(handle, str(path), 200)
        assert data[10:14] == bytes([10, 11, 12, 13]) and len(data) == 200
        path.write_bytes(b"short")
        with pytest.raises(WeightsError, match="changed while it was read"):
            data[100:120]


SHRINK_PT_AFTER_READ = textwrap.dedent("""
    import os, sys
    from darknet_inspector.core import pt_file

    read = pt_file.read_pt

    def read_then_shrink(path, *args, **kwargs):
        payload = read(path, *args, **kwargs)
        os.truncate(path, 40)  # rewritten while the model takes its tensors
        return payload

    pt_file.read_pt = read_then_shrink
    model = pt_file.load_pt(sys.argv[1])
    print("loaded", sum(p.numel() for p in model.parameters()))
""")


def test_a_pt_file_shrinking_while_it_loads_is_no_sigbus(model, tmp_path):
    from darknet_inspector.core.cli import main

    cfg, a, _ = model
    pt = tmp_path / "m.pt"
    assert main(["convert", cfg, a, "-o", str(pt)]) == 0
    result = subprocess.run([sys.executable, "-c", SHRINK_PT_AFTER_READ, str(pt)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "loaded" in result.stdout
