"""What the Verify and Weights diff tabs say while they cannot run: the one thing missing
for the state the model is in, never a generic "open a cfg and its weights" (issue 14.10)."""

from __future__ import annotations

import pytest

from darknet_inspector.core.network import load_network
from darknet_inspector.gui.diff_view import DiffTab
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.verify_view import VerifyTab
from tests.gui.conftest import open_and_stream
from tests.gui.helpers import conv_cfg, write_model


@pytest.fixture
def tabs(qtbot, settings):
    doc = ModelDocument()
    verify = VerifyTab(doc, settings, lambda *args: None)
    diff = DiffTab(doc, settings, lambda *args: None)
    for tab in (verify, diff):
        qtbot.addWidget(tab)
    yield doc, verify, diff
    verify.shutdown()
    diff.shutdown()


def hints(verify, diff, ready: bool = False) -> tuple[str, str]:
    """Both tabs told what the main window tells them; what each then says."""
    verify.model_ready(ready)
    diff.model_ready(ready)
    return verify.status.text(), diff.summary.text()


def test_no_model_asks_for_a_cfg(tabs):
    _, verify, diff = tabs
    for text in hints(verify, diff):
        assert text.startswith("Open a cfg and its weights first")


def test_unreadable_cfg_names_it_and_points_to_problems(tabs):
    doc, verify, diff = tabs
    doc.set_cfg_error("/models/broken.cfg", "line 3: no [net] section")
    for text in hints(verify, diff):
        assert text == "broken.cfg could not be read (see Problems)."


def test_cfg_without_weights_asks_for_its_weights(tabs, tmp_path):
    doc, verify, diff = tabs
    cfg, _, _, _ = write_model(tmp_path, conv_cfg(2), "yolo")
    doc.set_network(str(cfg), load_network(cfg))
    for text in hints(verify, diff):
        assert text.startswith("Open the weights for yolo.cfg")
        assert "Open a cfg" not in text


def test_weights_being_read_says_so(tabs, tmp_path):
    doc, verify, diff = tabs
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    doc.set_network(str(cfg), load_network(cfg))
    doc.begin_stream(str(weights))
    assert hints(verify, diff) == ("Reading the weights\u2026",) * 2


@pytest.mark.parametrize("end", ["cancel", "fail"])
def test_weights_not_read_to_the_end_ask_for_a_reload(tabs, tmp_path, end):
    doc, verify, diff = tabs
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    doc.set_network(str(cfg), load_network(cfg))
    doc.begin_stream(str(weights))
    doc.cancel_stream() if end == "cancel" else doc.fail_stream("disk error")
    verify_text, diff_text = hints(verify, diff)
    assert "not read to the end" in verify_text and "before verifying" in verify_text
    assert "not read to the end" in diff_text and "before comparing" in diff_text


def test_ready_model_offers_the_action(tabs, tmp_path):
    doc, verify, diff = tabs
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    doc.set_network(str(cfg), load_network(cfg))
    doc.begin_stream(str(weights))
    verify_text, diff_text = hints(verify, diff, ready=True)
    assert verify_text.startswith("Ready: run the verification")
    assert diff_text.startswith("Ready: compare these weights with a second .weights")


def test_main_window_tabs_follow_the_model_through_its_states(qtbot, window, tmp_path):
    """The window passes each state on: nothing open, cfg alone, weights with errors
    (cut short), a good model."""
    def both() -> tuple[str, str]:
        return window.verify_tab.status.text(), window.diff_tab.summary.text()

    assert all(t.startswith("Open a cfg and its weights first") for t in both())
    (tmp_path / "alone").mkdir()
    alone = tmp_path / "alone" / "lonely.cfg"
    alone.write_text(conv_cfg(2))
    window.open_cfg(str(alone))
    assert all(t.startswith("Open the weights for lonely.cfg") for t in both())
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(3))
    short = tmp_path / "short.weights"
    short.write_bytes(weights.read_bytes()[:-64])
    open_and_stream(qtbot, window, cfg, short)
    verify_text, diff_text = both()
    assert verify_text == "The model has errors (see Problems): fix them before verifying."
    assert diff_text == "The model has errors (see Problems): fix them before comparing."
    open_and_stream(qtbot, window, cfg, weights)
    verify_text, diff_text = both()
    assert verify_text.startswith("Ready") and diff_text.startswith("Ready")
