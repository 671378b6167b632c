"""Closing the app while a task runs (a long detection) never destroys a running QThread:
the window hides at once, the task is cancelled and reaches a safe point while the event
loop keeps running, then the window closes and the process exits cleanly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from darknet_inspector.gui import workers
from darknet_inspector.gui.workers import TaskRunner, running_tasks
from tests.conftest import ROOT


def blocking_task(release: threading.Event, reached: list):
    """A task stuck in one long call (like a torch forward) between two yields."""
    def task():
        yield "started"
        release.wait(30)  # a call that cannot be interrupted
        reached.append("safe point")
        yield "after the long call"
        reached.append("not cancelled")
        return "done"
    return task


def test_closing_during_a_task_hides_at_once_and_closes_when_it_ends(qtbot, window):
    release, reached = threading.Event(), []
    runner = TaskRunner(blocking_task(release, reached), "detect", window)
    window._runners.add(runner)
    with qtbot.waitSignal(runner.yielded):
        runner.start()
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 0.5  # no frozen window
    assert not window.isVisible() and runner.running
    release.set()
    qtbot.waitUntil(lambda: not running_tasks(), timeout=10_000)
    qtbot.waitUntil(lambda: not window._close_when_idle.isActive(), timeout=5_000)
    assert reached == ["safe point"]  # cancelled at the next yield


def test_a_runner_whose_owner_is_gone_keeps_its_thread_alive(qtbot):
    from PySide6.QtCore import QObject

    release, reached = threading.Event(), []
    owner = QObject()
    runner = TaskRunner(blocking_task(release, reached), "detect", owner)
    with qtbot.waitSignal(runner.yielded):
        runner.start()
    thread = runner._thread
    del runner
    owner.deleteLater()
    qtbot.wait(50)
    assert any(r._thread is thread for r in workers._LIVE)
    release.set()
    qtbot.waitUntil(lambda: not running_tasks(), timeout=10_000)


APP_CLOSED_MID_TASK = textwrap.dedent("""
    import sys, time
    from PySide6.QtCore import QTimer
    from darknet_inspector.gui.app import make_application
    from darknet_inspector.gui.main_window import MainWindow
    from darknet_inspector.gui.workers import TaskRunner

    app = make_application()
    window = MainWindow()
    window.show()

    def detection():
        yield "running the network"
        time.sleep(6)  # one long forward pass: longer than any wait at close
        yield "decoded"

    runner = TaskRunner(detection, "detect", window)
    window._runners.add(runner)
    runner.start()
    QTimer.singleShot(200, window.close)
    code = app.exec()
    print("exit", code, flush=True)
""")


def test_the_app_closed_mid_task_exits_cleanly():
    result = subprocess.run([sys.executable, "-c", APP_CLOSED_MID_TASK], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert "Destroyed while thread" not in result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    assert "exit 0" in result.stdout
