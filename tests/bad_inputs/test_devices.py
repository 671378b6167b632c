"""Files that are not files: a named pipe would block a reader forever and /dev/zero never
ends. The engine and the app refuse them at once (the CLI already checks `isfile`)."""

from __future__ import annotations

import os
import threading

import pytest

from darknet_inspector.core.errors import CfgError, InspectorError, WeightsError
from darknet_inspector.core.network import load_network
from darknet_inspector.core.weights import WeightsReader
from tests.bad_inputs.corpus import BASE_CFG
from tests.helpers import net_from_text

BOUND_S = 10


def ends_quickly(call) -> BaseException | None:
    """Run `call` in a thread; fail if it has not ended within BOUND_S. Returns what it
    raised (None if it returned)."""
    outcome: list[BaseException | None] = []

    def run():
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND_S)
    assert not worker.is_alive(), f"still running after {BOUND_S} s"
    return outcome[0]


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    path = tmp_path / "pipe.cfg"
    os.mkfifo(path)
    yield str(path)
    try:  # unblock a reader that would still wait for a writer
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


def test_a_named_pipe_as_cfg_is_refused_without_blocking(fifo):
    error = ends_quickly(lambda: load_network(fifo))
    assert isinstance(error, CfgError) and "not a regular file" in str(error)


def test_a_named_pipe_as_weights_is_refused_without_blocking(fifo):
    network = net_from_text(BASE_CFG)
    error = ends_quickly(lambda: WeightsReader(network, fifo))
    assert isinstance(error, WeightsError) and "not a regular file" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("copy", [False, True])
def test_an_endless_device_is_refused(copy):
    error = ends_quickly(lambda: load_network("/dev/zero"))
    assert isinstance(error, CfgError)
    error = ends_quickly(lambda: WeightsReader(net_from_text(BASE_CFG), "/dev/zero", copy))
    assert isinstance(error, InspectorError)


def test_the_app_refuses_a_named_pipe(qtbot, fifo, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings

    from darknet_inspector.gui.main_window import MainWindow
    from darknet_inspector.gui.settings import AppSettings

    window = MainWindow(AppSettings(QSettings(str(tmp_path / "s.ini"),
                                              QSettings.Format.IniFormat)))
    qtbot.addWidget(window)
    assert window.open_cfg(fifo) is False
    assert "not a regular file" in window.banner.text()
    cfg = tmp_path / "model.cfg"
    cfg.write_text(BASE_CFG)
    assert window.open_cfg(str(cfg))
    with qtbot.waitSignal(window.stream_finished, timeout=BOUND_S * 1000) as blocker:
        window.open_weights(fifo)
    assert blocker.args == ["failed"] and "not a regular file" in window.banner.text()
    window.close()
