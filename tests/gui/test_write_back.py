"""Export to Darknet .weights from the app: a converted .pt back to identical bytes."""

from __future__ import annotations

import torch

from darknet_inspector.core.model import load_model
from darknet_inspector.core.pt_file import save_pt
from darknet_inspector.gui.write_back_dialog import WriteBackDialog
from tests.gui.conftest import answer_questions
from tests.gui.helpers import conv_cfg, write_model


def test_converted_pt_is_written_back_byte_identical(qtbot, settings, tmp_path, monkeypatch):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    original = weights.read_bytes()
    model, _ = load_model(cfg, weights)
    save_pt(model, tmp_path / "model.pt")
    dialog = WriteBackDialog(settings, lambda *args: None)
    qtbot.addWidget(dialog)
    dialog.model.setText(str(tmp_path / "model.pt"))
    assert dialog.output.text() == str(tmp_path / "model.weights")
    asked = answer_questions(monkeypatch, "Yes")  # the suggestion is the original file
    dialog.write_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=20_000)
    assert asked and "model.weights" in asked[0]
    assert (tmp_path / "model.weights").read_bytes() == original
    assert "15 tensors" in dialog.status.text() and "seen 0" in dialog.status.text()


def test_state_dict_without_cfg_is_not_written_and_says_why(qtbot, settings, tmp_path):
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    model, _ = load_model(cfg, weights)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    dialog = WriteBackDialog(settings, lambda *args: None)
    qtbot.addWidget(dialog)
    dialog.model.setText(str(tmp_path / "state.pt"))
    dialog.write_button.click()
    qtbot.waitUntil(lambda: dialog.write_button.isEnabled(), timeout=20_000)
    assert "Not written" in dialog.status.text() and "--cfg" in dialog.status.text()
    assert not (tmp_path / "state.weights").exists()
    dialog.cfg.setText(str(cfg))
    dialog.write_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=20_000)
    assert (tmp_path / "state.weights").read_bytes() == weights.read_bytes()
