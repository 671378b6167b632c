"""Commands that run a model print what they run anyway: a weights file with bytes after
the last layer (Darknet ignores them) runs, with one warning line on stderr."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.core.test_cli import files, run  # noqa: F401  (fixture)

LEFT_OVER = 40


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("darknet-inspector: warning")]


@pytest.fixture
def longer(files):  # noqa: F811
    cfg, weights, _ = files
    with open(weights, "ab") as handle:
        handle.write(b"\0" * LEFT_OVER)
    return cfg, weights


def command_line(name: str, cfg, weights, tmp_path) -> list:
    if name == "convert":
        return ["convert", cfg, weights, "-o", tmp_path / "m.pt"]
    if name == "dump":
        np.save(tmp_path / "x.npy", np.zeros((3, 64, 64), np.float32))
        return ["dump", cfg, weights, "--input", tmp_path / "x.npy", "-o", tmp_path / "o.npz"]
    Image.new("RGB", (64, 64), (90, 120, 200)).save(tmp_path / "i.png")
    return ["detect", cfg, weights, tmp_path / "i.png"]


@pytest.mark.parametrize("name", ["convert", "dump", "detect"])
def test_trailing_bytes_run_with_one_warning_line(name, longer, capsys, tmp_path):
    cfg, weights = longer
    code, _, err = run(capsys, *command_line(name, cfg, weights, tmp_path))
    assert code == 0, err
    (line,) = warning_lines(err)
    assert f"{LEFT_OVER} bytes left over after the last layer" in line
    assert "Darknet ignores" in line and "Traceback" not in err


@pytest.mark.parametrize("name", ["convert", "dump", "detect"])
def test_a_matching_pair_prints_no_weights_warning(name, files, capsys, tmp_path):  # noqa: F811
    cfg, weights, _ = files
    code, _, err = run(capsys, *command_line(name, cfg, weights, tmp_path))
    assert code == 0, err
    assert not any("left over" in line for line in warning_lines(err))
