"""Workers: every yielded value arrives as a signal, errors become messages."""

from __future__ import annotations

from darknet_inspector.core.errors import UsageError
from darknet_inspector.gui.workers import TaskRunner


def test_runner_delivers_yields_then_the_return_value(qtbot):
    def task():
        yield 1
        yield 2
        return "done"

    runner = TaskRunner(task)
    got = []
    runner.yielded.connect(got.append)
    with qtbot.waitSignal(runner.returned) as blocker:
        runner.start()
    qtbot.waitUntil(lambda: not runner.running)
    assert got == [1, 2] and blocker.args == ["done"]


def test_core_errors_arrive_as_their_own_message(qtbot):
    def task():
        yield 1
        raise UsageError("image.jpg: no such image file")

    runner = TaskRunner(task)
    with qtbot.waitSignal(runner.errored) as blocker:
        runner.start()
    qtbot.waitUntil(lambda: not runner.running)
    assert blocker.args[0] == "image.jpg: no such image file"
    assert "UsageError" in blocker.args[1]  # the traceback, for the log panel


def test_unexpected_errors_name_their_type(qtbot):
    def task():
        raise KeyError("x")
        yield

    runner = TaskRunner(task)
    with qtbot.waitSignal(runner.errored) as blocker:
        runner.start()
    qtbot.waitUntil(lambda: not runner.running)
    assert blocker.args[0].startswith("unexpected KeyError")
