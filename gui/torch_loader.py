"""PyTorch, imported in the background once the window is up (issue 15).

Opening a model, the layer tree, the weights stream and the diagnosis need no torch;
only the tabs that run the model (Detection preview, Verify, Feature maps) and Convert /
Export do. Importing torch takes 1.5-2.5 s on two cores: the window used to wait for it.
Now `TorchLoader` imports torch and the model-running core modules on a worker thread
(a `TaskRunner`, so the GC and exit rules of every task hold) and says `ready` (or
`failed`) on the UI thread; until then those tabs show that PyTorch is loading.
pyqtgraph comes first (0.5-1 s): no plot shows at the start, so the app does not import
it then (gui/plots.py), and the first plot asked for afterwards finds it loaded.

One loader per process (`torch_loader()`): once loaded, every window has it.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable, Generator, Sequence

from PySide6.QtCore import QObject, Signal

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.gui.plots import PLOT_MODULE
from darknet_inspector.gui.workers import TaskRunner

MODEL_MODULES = (
    PLOT_MODULE,  # the plots (tensor view, diff, feature maps): no torch, but 0.5-1 s
    "torch",
    "darknet_inspector.core.detect",
    "darknet_inspector.core.jobs.detect",
    "darknet_inspector.core.verify",
    "darknet_inspector.core.jobs.verify",
    "darknet_inspector.core.featuremaps",
    "darknet_inspector.core.jobs.featuremaps",
    "darknet_inspector.core.deploy_formats",
    "darknet_inspector.core.jobs.convert",
    "darknet_inspector.core.pt_file",
)
"""What the model-running tabs import: all of it here, off the UI thread, so that their
own imports later find it loaded."""

LOADING_TEXT = "Loading PyTorch\u2026"


def import_modules(modules: Sequence[str], importer: Callable[[str], object]
                   ) -> Generator[str, None, None]:
    """A job: import each module in turn (its name yielded first)."""
    for name in modules:
        yield name
        try:
            importer(name)
        except ImportError as exc:  # said as it is: "No module named 'torch'"
            raise InspectorError(str(exc)) from exc


class TorchLoader(QObject):
    """idle -> loading -> ready | failed; `ready` / `failed(message)` once, on the UI
    thread."""

    ready = Signal()
    failed = Signal(str)

    def __init__(self, modules: Sequence[str] = MODEL_MODULES,
                 importer: Callable[[str], object] = importlib.import_module, parent=None):
        super().__init__(parent)
        self.modules = tuple(modules)
        self._importer = importer
        self.state = "idle"
        self.error = ""
        self._runner: TaskRunner | None = None

    @property
    def is_ready(self) -> bool:
        return self.state == "ready"

    def loaded_already(self) -> bool:
        """Everything is imported already (a test run, a second window): ready at once,
        without a thread."""
        if self.state == "idle" and self._importer is importlib.import_module \
                and all(name in sys.modules for name in self.modules):
            self.state = "ready"
        return self.is_ready

    def start(self) -> None:
        """Begin the import (once; later calls do nothing)."""
        if self.state != "idle" or self.loaded_already():
            return
        self.state = "loading"
        # normal priority: this thread holds the GIL nearly all the time, and a niced
        # holder descheduled on busy cores would keep the UI thread waiting for it
        runner = TaskRunner(lambda: import_modules(self.modules, self._importer),
                            "import-torch", self, lower_priority=False)
        runner.returned.connect(self._loaded)
        runner.errored.connect(self._failed)
        runner.cancelled.connect(lambda: self._failed("the app is closing", ""))
        self._runner = runner
        runner.start()

    def _loaded(self, _result) -> None:
        self.state = "ready"
        gc.freeze()  # torch's objects live as long as the process: no collection walks them
        self.ready.emit()

    def _failed(self, message: str, details: str) -> None:
        self.state, self.error = "failed", message
        self.failed.emit(message)


_LOADER: TorchLoader | None = None


def torch_loader() -> TorchLoader:
    """The process's loader (made on first use, on the UI thread)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = TorchLoader()
    return _LOADER
