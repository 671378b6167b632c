"""Memory limits: sizes computed by hand, refusal before allocating with a message that
says how to raise the limit, and the option/environment precedence."""

from __future__ import annotations

import pytest

from darknet_inspector.core import limits
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.limits import LimitError, max_memory_mb, set_max_memory_mb
from darknet_inspector.core.memory import estimate_memory
from tests.helpers import net_from_text

SMALL = """[net]
width=8
height=6
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2
"""


@pytest.fixture(autouse=True)
def default_limit(monkeypatch):
    monkeypatch.delenv(limits.MEMORY_ENV_VAR, raising=False)
    set_max_memory_mb(None)
    yield
    set_max_memory_mb(None)


def test_estimate_counts_parameters_input_and_every_output():
    estimate = estimate_memory(net_from_text(SMALL))
    assert estimate.parameter_bytes == 4 * (4 * 4 + 4 * 3 * 3 * 3)  # biases, BN triple, weights
    assert estimate.activation_bytes == 4 * (3 * 6 * 8 + 4 * 6 * 8 + 4 * 3 * 4)
    assert estimate.workspace_bytes == 0
    assert "layer 0 ([convolutional], cfg line 6)" in estimate.largest


def test_a_dilated_conv_counts_its_padded_input():
    """ConvModule._dilated pads 1*4 before and to (out-1)*stride + 4*(3-1)+1 in all."""
    network = net_from_text(SMALL.replace("pad=1", "pad=1\ndilation=4"))
    estimate = estimate_memory(network)
    assert estimate.workspace_bytes == 4 * 3 * (5 + 9) * (7 + 9)
    assert estimate.total_bytes == (estimate.parameter_bytes + estimate.activation_bytes
                                    + estimate.workspace_bytes)


def test_a_padded_pool_counts_its_padded_input():
    """size=1 stride=4 padding=8 on 4x6x8: out 4x4, pads 4 before and 3 (rows) / 1
    (columns) after, so a 13x13 plane for the 4 channels and the ones plane."""
    network = net_from_text(SMALL.replace("size=2\nstride=2", "size=1\nstride=4\npadding=8"))
    assert network.layers[1].output_shape == (4, 4, 4)
    assert estimate_memory(network).workspace_bytes == 4 * (4 + 1) * 13 * 13


def test_a_model_beyond_the_limit_is_refused_before_allocating(monkeypatch):
    import torch

    from darknet_inspector.core.model import DarknetModel

    network = net_from_text(SMALL.replace("width=8", "width=4096").replace(
        "height=6", "height=4096"))
    set_max_memory_mb(100)
    allocated = []
    monkeypatch.setattr(torch, "empty", lambda *a, **k: allocated.append(a))
    with pytest.raises(LimitError) as info:
        DarknetModel(network)
    assert allocated == []
    message = str(info.value)
    assert "more than the 100 MB limit" in message and "refused before allocating" in message
    assert "--max-memory-mb" in message and limits.MEMORY_ENV_VAR in message
    assert "layer 0 ([convolutional], cfg line 6)" in message and "\n" not in message


def test_copying_weights_beyond_the_limit_is_refused(tmp_path):
    from darknet_inspector.core.weights import WeightsReader

    network = net_from_text(SMALL.replace("filters=4", "filters=20000"))
    path = tmp_path / "w.weights"
    path.write_bytes(b"\0" * 64)
    set_max_memory_mb(1)
    with pytest.raises(LimitError, match="its weights would take 3 MB"):
        WeightsReader(network, path, copy=True)
    WeightsReader(network, path)  # a memory map takes nothing: inspecting still works


def test_the_option_wins_over_the_environment_and_the_default(monkeypatch):
    assert max_memory_mb() == limits.DEFAULT_MAX_MEMORY_MB
    monkeypatch.setenv(limits.MEMORY_ENV_VAR, "2048")
    assert max_memory_mb() == 2048
    set_max_memory_mb(64)
    assert max_memory_mb() == 64
    set_max_memory_mb(None)
    monkeypatch.setenv(limits.MEMORY_ENV_VAR, "lots")
    with pytest.raises(UsageError, match="positive whole number"):
        max_memory_mb()
    with pytest.raises(UsageError):
        set_max_memory_mb(0)


def test_inspecting_beyond_the_limit_is_a_warning_not_an_error():
    network = net_from_text(SMALL.replace("width=8", "width=100000").replace(
        "height=6", "height=100000"))
    warnings = [d for d in network.diagnostics if "limit" in d.message]
    assert [d.severity for d in warnings] == ["warning"]
    assert "can be inspected" in warnings[0].message
    assert not network.errors


def test_the_cli_option_raises_the_limit(tmp_path, capsys):
    from darknet_inspector.core.cli import main
    from tests.helpers import write_random_weights

    text = SMALL.replace("width=8", "width=512").replace("height=6", "height=512")
    cfg = tmp_path / "m.cfg"
    cfg.write_text(text)
    weights = tmp_path / "m.weights"
    write_random_weights(net_from_text(text), weights)
    out = str(tmp_path / "m.pt")
    assert main(["convert", str(cfg), str(weights), "-o", out, "--max-memory-mb", "5"]) == 2
    assert "more than the 5 MB limit" in capsys.readouterr().err
    assert main(["convert", str(cfg), str(weights), "-o", out, "--max-memory-mb", "50"]) == 0
    assert max_memory_mb() == 50  # until the next command line sets it again


def test_an_lrn_window_beyond_the_limit_is_refused():
    from darknet_inspector.core.layers.normalization import darknet_lrn_window

    set_max_memory_mb(1)
    with pytest.raises(LimitError, match="normalization"):
        darknet_lrn_window(1000, 5)
    assert darknet_lrn_window(100, 5).shape == (100, 100)


def test_absurd_anchor_counts_are_a_cfg_error_naming_the_line():
    network = net_from_text(SMALL + "\n[yolo]\nclasses=1\nnum=1000000000\n")
    error = network.errors[0]
    assert "1,000,000,000 anchors" in error.message and error.line == 19


OUT_OF_MEMORY_ERRORS = [
    MemoryError(),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                 "allocate memory: you tried to allocate 8606720000 bytes. Error code 12"),
]


@pytest.mark.parametrize("error", OUT_OF_MEMORY_ERRORS + ["cuda"], ids=["python", "cpu", "cuda"])
def test_running_out_of_memory_is_one_line_in_the_cli(error, monkeypatch, capsys):
    import torch

    from darknet_inspector.core import cli

    if error == "cuda":
        error = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB.\n"
                                            "GPU 0 has a total capacity of 139 GiB")

    def run(args):
        raise error

    monkeypatch.setitem(cli.COMMANDS, "inspect", run)
    assert cli.main(["inspect", "x.cfg"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"darknet-inspector: {limits.OUT_OF_MEMORY}"]


def test_an_unexpected_multi_line_error_is_still_one_line(monkeypatch, capsys):
    from darknet_inspector.core import cli

    def run(args):
        raise RuntimeError("first line\nsecond line\nthird")

    monkeypatch.setitem(cli.COMMANDS, "inspect", run)
    assert cli.main(["inspect", "x.cfg"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "first line" in lines[0] and "internal error" in lines[0]


def test_a_real_bug_is_not_mistaken_for_running_out_of_memory():
    assert not limits.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not limits.is_out_of_memory(ValueError("out of memory"))  # not torch's
    assert all(limits.is_out_of_memory(e) for e in OUT_OF_MEMORY_ERRORS)
