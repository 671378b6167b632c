"""The short stress run (.ci/run runs it with the suite): GUI tests that start, cancel and
close over worker threads, run in their own process beside two busy processes, must end
without an abort ("QThread: Destroyed while thread is still running", SIGABRT). Under
CPU contention a worker is more often still inside a task when a test tears its widgets
down; that race aborted a fresh-clone CI run once."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

BUSY = "while True: pass"
UNDER_LOAD = ["tests/gui/test_closing.py", "tests/gui/test_workers.py", "-k",
              "not exits_cleanly"]  # the app-in-a-subprocess test sleeps 6 s by design


def test_threaded_gui_tests_pass_beside_two_busy_processes():
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *UNDER_LOAD],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    finally:
        for process in busy:
            process.kill()
            process.wait()
    output = result.stdout + result.stderr
    assert "Destroyed while thread" not in output and "Fatal Python error" not in output
    assert result.returncode == 0, output[-3000:]
