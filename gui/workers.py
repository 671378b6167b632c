"""Run a core job (`core.jobs`) on a QThread: one signal per yielded value.

`TaskRunner` is the handle the UI keeps: start it, connect to its signals (delivered on
the UI thread), cancel it. The cancel flag is checked between yields, so a weights
stream stops between two layers and what was read stays consistent.

A running thread is never destroyed (Qt aborts the process: "QThread: Destroyed while
thread is still running"): every started runner stays referenced in `_LIVE` until its
thread has ended, whatever happens to the widget that started it, and at interpreter exit
`join_all` cancels and waits for what still runs. Closing the window hides it and lets
the event loop run until the tasks reach a safe point (`MainWindow.closeEvent`).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
import traceback
from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.limits import OUT_OF_MEMORY, is_out_of_memory


def describe_error(exc: BaseException) -> str:
    """A message for the user: core's own words, or the exception's type and text."""
    if isinstance(exc, InspectorError):
        return str(exc)
    if is_out_of_memory(exc):  # MemoryError, torch's CPU/CUDA allocation failures
        return OUT_OF_MEMORY
    text = (str(exc).strip().splitlines() or ["(no message)"])[0]
    return f"unexpected {type(exc).__name__}: {text}"


WORKER_NICENESS = 10


def lower_thread_priority() -> None:
    """Let the UI thread win the CPU over workers (Linux: per-thread nice value)."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


class GeneratorWorker(QObject):
    """Lives on the worker thread; iterates the task and reports through signals."""

    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str, str)  # message for the user, traceback for the log
    cancelled = Signal()
    done = Signal()

    def __init__(self, factory: Callable[[], Generator], lower_priority: bool = True):
        super().__init__()
        self._factory = factory
        self._lower_priority = lower_priority
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        if self._lower_priority:
            lower_thread_priority()
        try:
            self._iterate()
        except BaseException as exc:  # a worker must never take the app down
            self.errored.emit(describe_error(exc), traceback.format_exc())
        finally:
            self.done.emit()

    def _iterate(self) -> None:
        if self._cancel.is_set():
            self.cancelled.emit()
            return
        generator = self._factory()
        while True:
            try:
                value = next(generator)
            except StopIteration as stop:
                self.returned.emit(stop.value)
                return
            self.yielded.emit(value)
            if self._cancel.is_set():
                generator.close()
                self.cancelled.emit()
                return


class TaskRunner(QObject):
    """The UI-side handle of one task; its signals arrive on the UI thread."""

    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, factory: Callable[[], Generator], name: str = "task",
                 parent: QObject | None = None, lower_priority: bool = True,
                 hold_collection: bool = False):
        """`lower_priority=False` for a task that mostly waits (on a pipe, a child
        process): a low-priority thread descheduled while it holds the GIL keeps the UI
        thread waiting for the GIL for as long (priority inversion). `hold_collection`:
        while it runs, the UI thread's collections wait (`_collect`): the task makes
        ~10^5 objects that live as long as the process (a big import), and walking them
        each second would stall the event loop ~0.1 s each time."""
        super().__init__(parent)
        self.name = name
        self.hold_collection = hold_collection
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = GeneratorWorker(factory, lower_priority)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.yielded.connect(self.yielded)
        self._worker.returned.connect(self.returned)
        self._worker.errored.connect(self.errored)
        self._worker.cancelled.connect(self.cancelled)
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False

    def start(self) -> TaskRunner:
        self._running = True
        running_tasks()  # let the ended ones go
        _LIVE.add(self)
        _collect_on_the_ui_thread()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._worker.cancel()

    @property
    def running(self) -> bool:
        """Started, and its `finished` signal not yet delivered (so once false, every
        signal the task sent has arrived)."""
        return self._running

    @property
    def ended(self) -> bool:
        """Its thread has ended (its last signals may still be queued for the UI)."""
        return self._thread.isFinished()

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until the thread ends (used when the window closes)."""
        return self._thread.wait(msecs)

    def _on_thread_finished(self) -> None:
        self._running = False
        self.finished.emit()


_LIVE: set[TaskRunner] = set()
"""Every started runner whose thread may still run: the reference that keeps its QThread
alive even when the widget that owned the runner is gone."""


def running_tasks() -> list[TaskRunner]:
    """The runners whose threads still run (the ended ones are let go here)."""
    for runner in [r for r in _LIVE if r.ended]:
        _LIVE.discard(runner)
    return list(_LIVE)


def cancel_all() -> list[TaskRunner]:
    """Ask every running task to stop at its next safe point; the ones still running."""
    tasks = running_tasks()
    for runner in tasks:
        runner.cancel()
    return tasks


GC_INTERVAL_MS = 1000
YOUNG_GENERATIONS = 1  # gc.collect(1): generations 0 and 1
_gc_timer: QTimer | None = None


def _collect_on_the_ui_thread() -> None:
    """While tasks run, Python's cyclic garbage collector runs only here, on the UI thread.
    Left automatic it runs in whichever thread allocates; in a worker it destroyed Qt
    objects of closed widgets there, and that deadlocked with the UI thread (a worker in
    ~QObject waiting for the GIL, the UI thread deleting a menu and waiting for Qt's lock;
    seen in the GUI suite under load). Automatic collection comes back once none runs.
    The timer collects the young generations only: a full collection walks every object
    of the process (40 ms and more with torch loaded, stretched to 300 ms on busy cores:
    the longest event-loop stall of a stream, issue 15); the old generation waits for
    automatic collection to come back."""
    global _gc_timer
    if _gc_timer is None:
        _gc_timer = QTimer(interval=GC_INTERVAL_MS)
        _gc_timer.timeout.connect(_collect)
    if not _gc_timer.isActive():
        gc.disable()
        _gc_timer.start()


def _collect() -> None:
    tasks = running_tasks()
    if not any(task.hold_collection for task in tasks):
        gc.collect(YOUNG_GENERATIONS)
    if not tasks and _gc_timer is not None:
        _gc_timer.stop()
        gc.enable()


@atexit.register
def join_all() -> None:
    """At exit: cancel and wait for every task (a long torch call ends first) so that no
    thread is destroyed while it runs."""
    for runner in cancel_all():
        while not runner.wait(1000):
            pass
    _LIVE.clear()


def start_task(parent: QObject, factory: Callable[[], Generator], name: str, *,
               step: Callable, done: Callable, failed: Callable, button) -> TaskRunner:
    """Run `factory`'s generator off the UI thread: steps, result and failure go to the
    callbacks, and `button` stays disabled until the task has ended."""
    runner = TaskRunner(factory, name, parent)
    runner.yielded.connect(step)
    runner.returned.connect(done)
    runner.errored.connect(failed)
    runner.finished.connect(lambda: button.setEnabled(True))
    button.setEnabled(False)
    runner.start()
    return runner
