"""A diff row clicked after B was emptied (a training run rewrote it) goes to the Log
panel as one line; nothing reaches stderr."""

from __future__ import annotations

from darknet_inspector.gui.diff_view import DiffTab
from darknet_inspector.gui.document import ModelDocument
from tests.gui import test_diff_view
from tests.gui.test_diff_view import compare

files = test_diff_view.files  # the fixture: model A and B with two tensors changed


def test_a_row_clicked_after_b_was_emptied_is_logged_not_a_traceback(qtbot, settings, files,
                                                                     capfd):
    logged = []
    tab = DiffTab(ModelDocument(), settings, lambda *args: logged.append(args))
    qtbot.addWidget(tab)
    cfg, a, b = files
    compare(qtbot, tab, cfg, a, b)
    b.write_bytes(b"")
    tab.table.setCurrentCell(1, 0)
    qtbot.wait(50)
    tab.shutdown()
    assert any("cannot show" in entry[0] and entry[1] == "error" for entry in logged)
    assert "Traceback" not in capfd.readouterr().err
