"""PyTorch loads in the background (issue 15): the window comes up without it, the
model-running tabs say they wait for it, nothing breaks when used early, and they build
themselves once it is loaded (or say why it could not be)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from PySide6.QtWidgets import QLabel

from darknet_inspector.gui.main_window import MODEL_TABS, MainWindow
from darknet_inspector.gui.preview import PreviewTab
from darknet_inspector.gui.torch_loader import LOADING_TEXT, TorchLoader
from darknet_inspector.gui.verify_view import VerifyTab
from tests.gui.conftest import open_and_stream
from tests.gui.helpers import conv_cfg, write_model

LOAD_TIMEOUT_MS = 20_000


class HeldImport:
    """An importer that waits until released (a torch import that takes its time)."""

    def __init__(self, fail: str | None = None):
        self.release, self.started, self.fail = threading.Event(), threading.Event(), fail

    def __call__(self, name: str) -> None:
        self.started.set()
        self.release.wait(20)
        if self.fail:
            raise ImportError(self.fail)


def held_window(qtbot, settings, importer) -> tuple[MainWindow, TorchLoader]:
    loader = TorchLoader(("torch",), importer)
    window = MainWindow(settings, torch=loader)
    qtbot.addWidget(window)
    return window, loader


def tab_texts(window: MainWindow) -> dict[str, str]:
    return {window.tabs.tabText(i): (w.text() if isinstance(w, QLabel) else type(w).__name__)
            for i in range(window.tabs.count()) if (w := window.tabs.widget(i)) is not None}


def test_the_model_tabs_wait_for_pytorch_and_build_themselves_when_it_is_loaded(
        qtbot, settings, tmp_path):
    importer = HeldImport()
    window, loader = held_window(qtbot, settings, importer)
    assert loader.state == "idle"  # not in the constructor: after the window shows
    window.show()
    qtbot.waitUntil(importer.started.is_set, timeout=LOAD_TIMEOUT_MS)
    texts = tab_texts(window)
    assert all(texts[title].startswith(LOADING_TEXT) for title in MODEL_TABS)
    assert texts["Layers"] != LOADING_TEXT and window.preview is None
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"  # works without torch
    assert not window.convert_action.isEnabled() and not window.verify_action.isEnabled()
    assert not window.write_back_action.isEnabled()
    image = tmp_path / "dog.png"
    image.write_bytes(b"")
    window.open_paths([str(image)])  # early clicks: no crash, no freeze
    window.run_verify()
    assert window.open_convert_dialog() is None and window.open_write_back_dialog() is None
    assert "still loading" in window.log_panel.toPlainText()
    with qtbot.waitSignal(loader.ready, timeout=LOAD_TIMEOUT_MS):
        importer.release.set()
    assert isinstance(window.preview, PreviewTab) and isinstance(window.verify_tab, VerifyTab)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Layers", "Detection preview", "Verify", "Weights diff", "Graph", "Feature maps"]
    assert window.tabs.currentWidget() is window.preview  # the image's tab, now real
    assert window.preview.image_path == str(image)
    assert window.convert_action.isEnabled() and window.verify_action.isEnabled()
    assert window.write_back_action.isEnabled()


def test_a_failed_pytorch_import_is_said_in_the_tabs_and_the_log(qtbot, settings):
    importer = HeldImport(fail="No module named 'torch'")
    importer.release.set()
    window, loader = held_window(qtbot, settings, importer)
    with qtbot.waitSignal(loader.failed, timeout=LOAD_TIMEOUT_MS):
        window.show()
    texts = tab_texts(window)
    assert all("PyTorch could not be loaded: No module named 'torch'" in texts[title]
               for title in MODEL_TABS)
    assert "PyTorch could not be loaded" in window.log_panel.toPlainText()
    assert window.preview is None and not window.write_back_action.isEnabled()


def test_pytorch_waits_for_a_weights_stream_to_end(qtbot, settings, tmp_path):
    importer = HeldImport()
    importer.release.set()
    window, loader = held_window(qtbot, settings, importer)
    cfg, weights, _, _ = write_model(tmp_path, conv_cfg(2))
    window.strip.set_running(True)  # a stream runs when the window shows
    window.show()
    qtbot.wait(50)
    assert loader.state == "idle"
    window.strip.set_running(False)
    with qtbot.waitSignal(loader.ready, timeout=LOAD_TIMEOUT_MS):
        assert open_and_stream(qtbot, window, cfg, weights) == "done"


def test_a_loaded_pytorch_builds_the_tabs_at_once(qtbot, window):
    assert isinstance(window.preview, PreviewTab) and window.torch.is_ready


PRELOAD_PROBE = """
import sys
from darknet_inspector.gui.torch_loader import preload_torch_libraries
loaded = preload_torch_libraries()
maps = open("/proc/self/maps").read()
print(loaded, "libtorch_cpu" in maps, "torch" in sys.modules)
import torch
print(float(torch.ones(3).sum()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's dlopen")
def test_torchs_libraries_are_mapped_before_the_import_and_torch_still_works():
    """The GIL-free preload maps libtorch without importing torch, and the import that
    follows finds it and runs (a 0.3-0.4 s UI freeze while Python's import maps it)."""
    done = subprocess.run([sys.executable, "-c", PRELOAD_PROBE], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.split("\n")[:2]
    assert first.split() == ["True", "True", "False"]
    assert second == "3.0"


def test_the_ui_thread_collects_nothing_while_torch_imports_and_freezes_it_after(
        qtbot, monkeypatch):
    """The UI thread's once-a-second collection (gui/workers.py) would walk the import's
    ~10^5 new objects (~0.1 s of frozen window each time): it waits while the import runs;
    afterwards what the import made is frozen, never walked again."""
    import gc

    from darknet_inspector.gui import workers

    collected, frozen = [], []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args) or 0)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    importer = HeldImport()
    loader = TorchLoader(("torch",), importer)
    loader.start()
    assert importer.started.wait(10)
    for _ in range(3):
        workers._collect()  # what the UI thread's timer runs each second
    assert collected == [] and frozen == []
    with qtbot.waitSignal(loader.ready, timeout=LOAD_TIMEOUT_MS):
        importer.release.set()
    assert frozen == [True]
    other = HeldImport()
    runner = workers.TaskRunner(lambda: iter([other("x")]), "other")
    runner.start()
    try:
        workers._collect()  # another task: the UI thread collects as before
        assert collected == [(workers.YOUNG_GENERATIONS,)]
    finally:
        other.release.set()
        runner.wait()
