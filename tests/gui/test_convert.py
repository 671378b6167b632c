"""The Convert dialog: .pt written in a worker, reloaded, one forward pass compared."""

from __future__ import annotations

import os

import pytest
import torch

from darknet_inspector.core.model import load_model
from darknet_inspector.core.pt_file import load_pt
from darknet_inspector.gui.convert_dialog import FORMATS
from tests.gui.conftest import answer_questions, open_and_stream
from tests.gui.helpers import conv_cfg, write_model


def _convert(qtbot, window, output, fuse: bool):
    dialog = window.open_convert_dialog()
    assert dialog is not None
    qtbot.addWidget(dialog)
    dialog.output.setText(str(output))
    dialog.fuse.setChecked(fuse)
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=30_000)
    return dialog


def test_convert_writes_pt_and_reports_the_forward_difference(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3, size=48))
    open_and_stream(qtbot, window, cfg, weights)
    assert window.convert_action.isEnabled()
    output = tmp_path / "out.pt"
    dialog = _convert(qtbot, window, output, fuse=True)
    assert dialog.result is not None, dialog.status.text()
    assert output.is_file()
    assert dialog.result.max_diff < 1e-4
    assert "max |difference|" in dialog.status.text()
    # the dialog's number is the difference between the file and the weights
    original, _ = load_model(cfg, weights)
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        diff = (original(x)[0] - load_pt(output)(x)[0]).abs().max().item()
    assert diff < 1e-4


def test_every_format_is_offered_and_torchscript_says_it_is_deprecated(qtbot, window,
                                                                        tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    dialog = window.open_convert_dialog()
    qtbot.addWidget(dialog)
    items = dialog.format.model()
    for row, fmt in enumerate(FORMATS):
        assert items.item(row).isEnabled() == (fmt.unavailable is None)
    assert [f.key for f in FORMATS] == ["pt", "pt2", "onnx", "torchscript"]
    assert "deprecated" in dialog.format.itemText(len(FORMATS) - 1)


@pytest.mark.parametrize("key", ["pt2", "onnx"])
def test_convert_to_pt2_and_onnx_reloads_and_reports_the_difference(qtbot, window, tmp_path,
                                                                    key):
    if key == "onnx":
        pytest.importorskip("onnxruntime")
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2, size=32))
    open_and_stream(qtbot, window, cfg, weights)
    dialog = window.open_convert_dialog()
    qtbot.addWidget(dialog)
    assert not dialog.dynamic_batch.isEnabled()
    dialog.format.setCurrentIndex([f.key for f in FORMATS].index(key))
    assert dialog.output.text().endswith("." + key)
    assert dialog.dynamic_batch.isEnabled()
    dialog.dynamic_batch.setChecked(True)
    dialog.start()
    # torch.export with a dynamic batch takes minutes beside busy processes (the stress run)
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=240_000)
    assert dialog.result is not None, dialog.status.text()
    assert dialog.result.max_diff < 1e-4
    assert "Reloaded it with" in dialog.status.text()
    assert (tmp_path / dialog.output.text()).is_file()


def test_convert_is_refused_while_the_weights_do_not_match(qtbot, window, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    with open(weights, "r+b") as handle:  # short: bytes left over would only be a warning
        handle.truncate(os.path.getsize(weights) - 8)
    open_and_stream(qtbot, window, cfg, weights)
    assert not window.convert_action.isEnabled()
    assert window.open_convert_dialog() is None
    assert "errors" in window.log_panel.toPlainText()


@pytest.mark.parametrize("answer, replaced", [("No", False), ("Yes", True)])
def test_a_typed_path_to_an_existing_file_is_replaced_only_when_the_user_agrees(
        qtbot, window, tmp_path, monkeypatch, answer, replaced):
    asked = answer_questions(monkeypatch, answer)
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    target = tmp_path / "earlier.pt"
    target.write_bytes(b"an earlier conversion")
    dialog = window.open_convert_dialog()
    qtbot.addWidget(dialog)
    dialog.output.setText(str(target))
    dialog.start()
    assert asked and str(target) in asked[0]
    if replaced:
        qtbot.waitUntil(lambda: dialog.runner is not None and not dialog.runner.running,
                        timeout=60_000)
        assert target.read_bytes() != b"an earlier conversion"
    else:
        assert dialog.runner is None
        assert target.read_bytes() == b"an earlier conversion"
        assert "kept" in dialog.status.text()


def test_the_dialog_and_the_cli_run_the_same_core_convert_job(qtbot, window, tmp_path,
                                                              monkeypatch):
    from darknet_inspector.core.cli import main
    from darknet_inspector.core.jobs import convert as convert_job
    from darknet_inspector.gui import convert_dialog

    assert convert_dialog.convert_model is convert_job.convert_model
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    calls = []
    original = convert_job.convert_model

    def recorded(network, path, options, ahead=None):  # the CLI's read is under way
        calls.append(options.format)
        return (yield from original(network, path, options, ahead))

    monkeypatch.setattr(convert_job, "convert_model", recorded)
    monkeypatch.setattr(convert_dialog, "convert_model", recorded)
    assert main(["convert", str(cfg), str(weights), "-o", str(tmp_path / "cli.pt")]) == 0
    open_and_stream(qtbot, window, cfg, weights)
    dialog = _convert(qtbot, window, tmp_path / "gui.pt", fuse=False)
    assert calls == ["pt", "pt"] and dialog.result is not None
    assert dialog.result.summary().startswith(f"Wrote {tmp_path / 'gui.pt'}. Reloaded it with")


def test_a_typed_onnx_path_writes_onnx(qtbot, window, tmp_path):
    pytest.importorskip("onnxruntime")
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2, size=32))
    open_and_stream(qtbot, window, cfg, weights)
    dialog = window.open_convert_dialog()
    qtbot.addWidget(dialog)
    dialog.output.clear()
    qtbot.keyClicks(dialog.output, str(tmp_path / "typed.onnx"))
    assert dialog.format.currentData() == "onnx"
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=60_000)
    assert dialog.result is not None, dialog.status.text()
    assert (tmp_path / "typed.onnx").read_bytes()[:2] != b"PK"  # not a PyTorch zip


def test_without_onnx_the_format_is_disabled_with_the_pip_line(qtbot, window, tmp_path,
                                                              monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(1))
    open_and_stream(qtbot, window, cfg, weights)
    dialog = window.open_convert_dialog()
    qtbot.addWidget(dialog)
    item = dialog.format.model().item([f.key for f in FORMATS].index("onnx"))
    assert not item.isEnabled()
    assert "pip install onnx" in item.toolTip()
