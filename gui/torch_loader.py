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

Two things around `import torch` hold the GIL long enough to freeze the window the user is
already looking at, so the loader takes them out: Python's own `dlopen` of torch's shared
libraries inside the import (0.3-0.4 s; on Linux the loader maps them first with the GIL
released, `preload_torch_libraries`), and the UI thread's garbage collections
(gui/workers.py) walking the ~10^5 objects the import creates (~0.1 s each second; they
wait until the import ends, when those objects are frozen: they live as long as the
process).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

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
TORCH_PYTHON_LIBRARY = "libtorch_python.so"  # torch._C's library: needs all of libtorch
GLOBAL_DEPS_LIBRARY = "libtorch_global_deps.so"  # what torch maps first, RTLD_GLOBAL


def preload_torch_libraries() -> bool:
    """Map torch's shared libraries before `import torch`, through libc's `dlopen` called
    with ctypes, which releases the GIL for the call (ctypes.CDLL and Python's import hold
    it): the import then finds them mapped. In torch's own order (`_load_global_deps`,
    torch/__init__.py): its global deps RTLD_GLOBAL, then the libraries behind torch._C.
    Linux only, and not for a CUDA build, whose libraries torch loads with care of its own
    (`_preload_cuda_deps`). Best effort: False, and the import maps them as usual, when
    anything is missing; never imports torch."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        spec = importlib.util.find_spec("torch")
        folders = list(spec.submodule_search_locations or []) if spec else []
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (ImportError, OSError, AttributeError, ValueError):
        return False
    if not folders:
        return False
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    lib = Path(folders[0]) / "lib"
    if not dlopen(os.fsencode(lib / GLOBAL_DEPS_LIBRARY), os.RTLD_NOW | os.RTLD_GLOBAL):
        return False
    if _mapped("libcudart"):
        return False
    return bool(dlopen(os.fsencode(lib / TORCH_PYTHON_LIBRARY), os.RTLD_NOW | os.RTLD_LOCAL))


def _mapped(name: str) -> bool:
    """A library whose file name holds `name` is mapped into this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return name in maps.read()
    except OSError:
        return True  # cannot tell: do nothing more


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
        preload = "torch" in self.modules and self._importer is importlib.import_module
        runner = TaskRunner(lambda: self._job(preload), "import-torch", self,
                            lower_priority=False, hold_collection=True)
        runner.returned.connect(self._loaded)
        runner.errored.connect(self._failed)
        runner.cancelled.connect(lambda: self._failed("the app is closing", ""))
        self._runner = runner
        runner.start()

    def _job(self, preload: bool) -> Generator[str, None, None]:
        if preload and "torch" not in sys.modules:
            yield "torch's libraries"
            preload_torch_libraries()
        yield from import_modules(self.modules, self._importer)
        gc.freeze()  # its objects live as long as the process: no collection walks them

    def _loaded(self, _result) -> None:
        self.state = "ready"
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
