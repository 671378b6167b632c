"""The main window: banner, layer tree, cfg and tensor views, Problems and Log panels."""

from __future__ import annotations

import os
import tempfile
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from darknet_inspector.core.darknet_tree import DarknetTree, TreeFileError, read_tree
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.save import save_array, save_fixed_cfg
from darknet_inspector.core.jobs.stream import StreamStart, StreamUpdate, stream_weights
from darknet_inspector.core.network import load_network
from darknet_inspector.core.stats_process import StatsChild
from darknet_inspector.gui.banner import Banner, verdict
from darknet_inspector.gui.cfg_view import CfgSectionView
from darknet_inspector.gui.diff_view import ChangedLayersDelegate, DiffTab
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.file_watch import FileWatch
from darknet_inspector.gui.layer_panel import LayerPanel
from darknet_inspector.gui.log_panel import LogPanel
from darknet_inspector.gui.problems import ProblemsPanel
from darknet_inspector.gui.screen_fit import first_start_size, fit_window, scrolling
from darknet_inspector.gui.settings import AppSettings
from darknet_inspector.gui.stream_strip import StreamStrip
from darknet_inspector.gui.tensor_view import TensorView
from darknet_inspector.gui.torch_loader import LOADING_TEXT, TorchLoader, torch_loader
from darknet_inspector.gui.workers import TaskRunner, cancel_all, describe_error, running_tasks

if TYPE_CHECKING:
    from darknet_inspector.gui.convert_dialog import ConvertDialog

CFG_SUFFIXES = (".cfg",)
WEIGHTS_SUFFIXES = (".weights",)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
LIVE_VIEW_INTERVAL_MS = 100
MODEL_TABS = ("Detection preview", "Verify", "Feature maps")  # the tabs that need torch


def _demo_module():
    """core.demo, when this install has it."""
    try:
        from darknet_inspector.core import demo
    except ImportError:
        return None
    return demo


def sibling_weights(cfg_path: str) -> str | None:
    """`model.weights` beside `model.cfg`, offered (never opened) when it exists."""
    candidate = os.path.splitext(cfg_path)[0] + ".weights"
    return candidate if os.path.isfile(candidate) else None


def short_folder(path: str) -> str:
    """The folder of `path`, with the home folder as ~."""
    folder = os.path.dirname(os.path.abspath(path))
    home = os.path.expanduser("~")
    return "~" + folder[len(home):] if home != "/" and folder.startswith(home) else folder


def largest_tensor(layer) -> str | None:
    return max(layer.weights, key=lambda s: s.count).name if layer.weights else None


class MainWindow(QMainWindow):
    stream_finished = Signal(str)  # the document's final stream state, once diagnosed

    def __init__(self, settings: AppSettings | None = None, parent=None,
                 torch: TorchLoader | None = None):
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.torch = torch or torch_loader()  # the model-running tabs wait for it
        self.preview = self.verify_tab = self.feature_maps = None  # built when it is ready
        self._model_tabs: dict[str, QLabel] = {}  # their stand-ins until then
        self._pending_image: tuple[str, bool] | None = None  # (path, run) for the preview
        self.doc = ModelDocument(self)
        self.stream_runner: TaskRunner | None = None
        self.diagnosis_runner: TaskRunner | None = None
        self._runners: set[TaskRunner] = set()
        self._close_when_idle = QTimer(self, interval=50)  # closing waits for tasks to end
        self._layout_saved = False  # by this close (a close may wait for tasks)
        self._close_when_idle.timeout.connect(self._close_if_idle)
        self._sibling: str | None = None
        self._stream_started_at = 0.0
        self.setWindowTitle("Darknet Inspector")
        self.setAcceptDrops(True)
        if self.screen() is not None:
            self.resize(first_start_size(self.screen().availableGeometry()))
        self._current: tuple[int, str] | None = None  # the layer (and tensor) selected
        self._last_weights: str | None = None  # kept for a reload while the cfg is broken
        self.watch = FileWatch(self)  # the open cfg and weights: changed on disk -> reload
        self.watch.changed.connect(self.reload)
        self._build_views()
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_VIEW_INTERVAL_MS)
        self._live_timer.timeout.connect(self._refresh_live_view)
        self.doc.network_changed.connect(self._network_changed)
        self.doc.network_changed.connect(self.statusBar().clearMessage)  # old model's news
        self.doc.reload_requested.connect(self.reload)  # its tree file was chosen
        self.doc.stream_started.connect(self.statusBar().clearMessage)  # and the old run's
        self.doc.stream_started.connect(self._refresh_banner)  # once per stream, not per layer
        self.doc.layer_updated.connect(self._layer_read)
        self.doc.stream_ended.connect(self._stream_ended)
        self.doc.problems_changed.connect(self._refresh_banner)
        self.doc.problems_changed.connect(self._refresh_problem_count)
        self._restore_layout()
        self._refresh_banner()
        self._refresh_problem_count()
        self.write_back_action.setEnabled(False)  # until PyTorch is loaded
        self._load_model_tabs()

    # -- construction ---------------------------------------------------------------------
    def _build_views(self) -> None:
        self.banner = Banner()
        self.banner.action.connect(self._banner_action)
        self.layers = LayerPanel(self.doc)
        self.layers.current_changed.connect(self._current_changed)
        self.cfg_view = CfgSectionView(self.doc)
        self.tensor_view = TensorView(self.doc)
        self.tensor_view.export_requested.connect(self.export_tensor)

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.cfg_view)
        self.right_split.addWidget(scrolling(self.tensor_view))
        self.right_split.setSizes([260, 600])
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(self.layers)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)
        self.main_split.setSizes([900, 480])

        self.tabs = QTabWidget()
        self.tabs.addTab(self.main_split, "Layers")
        for title in MODEL_TABS[:2]:  # Detection preview, Verify
            self._add_stand_in(title)
        self._add_diff_tab()
        self._add_graph_tab()
        self._add_stand_in(MODEL_TABS[2])  # Feature maps
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

    def _add_stand_in(self, title: str) -> None:
        """A model-running tab's place while PyTorch loads (`_build_model_tabs`)."""
        note = QLabel(f"{LOADING_TEXT}\n\n{title} runs the model and opens by itself once "
                      "PyTorch is loaded;\nthe layer tree, the weights and the diagnosis work "
                      "meanwhile.")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        note.setWordWrap(True)
        self._model_tabs[title] = note
        self.tabs.addTab(note, title)

    def _replace_stand_in(self, title: str, widget: QWidget) -> None:
        note = self._model_tabs.pop(title)
        index, current = self.tabs.indexOf(note), self.tabs.currentIndex()
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, title)
        if current == index:
            self.tabs.setCurrentIndex(index)
        note.deleteLater()

    def _load_model_tabs(self) -> None:
        """Build the model-running tabs now if PyTorch is loaded, else when it is."""
        if self.torch.loaded_already():
            self._build_model_tabs()
            return
        self.torch.ready.connect(self._build_model_tabs)
        self.torch.failed.connect(self._torch_failed)
        if self.torch.state == "failed":
            self._torch_failed(self.torch.error)

    def _start_torch(self) -> None:
        """Import PyTorch in the background once the window is up and no weights stream
        runs (both would compete for the UI process's GIL and the two cores)."""
        if self.torch.state == "idle" and self.isVisible() and not self.strip.running:
            self.torch.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._close_when_idle.isActive():
            self._layout_saved = False  # shown again: a later close saves anew
        QTimer.singleShot(0, self._start_torch)  # after the first paint

    def _build_model_tabs(self) -> None:
        if self.preview is not None or self.verify_tab is not None:
            return
        from darknet_inspector.gui.featuremap_view import FeatureMapTab
        from darknet_inspector.gui.preview import PreviewTab
        from darknet_inspector.gui.verify_view import VerifyTab

        self.preview = PreviewTab(self.doc, self.settings, self.log)
        self._replace_stand_in(MODEL_TABS[0], self.preview)
        self.verify_tab = VerifyTab(self.doc, self.settings, self.log)
        self.verify_tab.layer_activated.connect(self.select_layer)
        self._replace_stand_in(MODEL_TABS[1], self.verify_tab)
        self.feature_maps = FeatureMapTab(self.doc, self.preview, self.log)
        self._replace_stand_in(MODEL_TABS[2], self.feature_maps)
        self.feature_maps.layer_activated.connect(lambda index: self.layers.select(index))
        self.layers.current_changed.connect(self._feature_maps_follow)
        if self._pending_image is not None:
            path, run = self._pending_image
            self._pending_image = None
            self.preview.open_image(path, run=False)
            self.preview.run_when_ready = run
        self.write_back_action.setEnabled(True)
        self._update_convert_action()

    def _feature_maps_follow(self, layer: int, tensor: str) -> None:
        if self.feature_maps is not None:
            self.feature_maps.select_layer(layer)

    def _torch_failed(self, message: str) -> None:
        for note in self._model_tabs.values():
            note.setText(f"PyTorch could not be loaded: {message}. This tab runs the model; "
                         "the layer tree, the weights and the diagnosis work without it.")
        self.log(f"PyTorch could not be loaded: {message}", "error")

    def _add_diff_tab(self) -> None:
        """The Weights-diff tab; the layers a diff finds changed paint in the tree."""
        self.diff_tab = DiffTab(self.doc, self.settings, self.log)
        self.diff_tab.tensor_activated.connect(self.select_layer)
        self.diff_tab.changed.connect(self._diff_changed)
        self.tabs.addTab(self.diff_tab, "Weights diff")
        self._plain_delegate = self.layers.tree.itemDelegate()
        self._changed_delegate = ChangedLayersDelegate(self.diff_tab, self.layers.tree)

    def _diff_changed(self) -> None:
        """The tree paints through the diff's delegate only while a diff found changes:
        a Python delegate is a callback per painted cell (issue 15)."""
        tree = self.layers.tree
        tree.setItemDelegate(self._changed_delegate if self.diff_tab.changed_layers
                             else self._plain_delegate)
        tree.viewport().update()

    def _add_graph_tab(self) -> None:
        """The Graph tab (and Feature maps, once built): a layer selected there is
        selected in the tree (without leaving the tab) and the other way round."""
        from darknet_inspector.gui.graph_view import GraphView

        self.graph = GraphView(self.doc)
        self.tabs.addTab(self.graph, "Graph")
        self.graph.layer_activated.connect(lambda index: self.layers.select(index))
        self.layers.current_changed.connect(
            lambda layer, tensor: self.graph.select_layer(layer))

    def _build_docks(self) -> None:
        self.problems = ProblemsPanel(self.doc)
        self.problems.layer_activated.connect(self.select_layer)
        self.problems_dock = QDockWidget("Problems", self)
        self.problems_dock.setObjectName("problemsDock")
        self.problems_dock.setWidget(self.problems)
        self.log_panel = LogPanel()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.problems_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.tabifyDockWidget(self.problems_dock, self.log_dock)
        self.problems_dock.raise_()
        self.resizeDocks([self.problems_dock], [200], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.strip = StreamStrip()
        self.strip.cancel_requested.connect(self.cancel_stream)
        self.model_summary = QLabel()
        self.statusBar().addPermanentWidget(self.model_summary)
        self.statusBar().addPermanentWidget(self.strip)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_cfg_action = self._action(file_menu, "Open &cfg\u2026", self.ask_open_cfg,
                                            QKeySequence.StandardKey.Open)
        self.open_weights_action = self._action(file_menu, "Open &weights\u2026",
                                                self.ask_open_weights, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.recent_menu.setToolTipsVisible(True)
        self.reload_action = self._action(file_menu, "&Reload from disk", self.reload,
                                          QKeySequence.StandardKey.Refresh)
        file_menu.addSeparator()
        self.convert_action = self._action(file_menu, "Con&vert to PyTorch\u2026",
                                           self.open_convert_dialog, "Ctrl+E")
        self.write_back_action = self._action(file_menu, "Export to Darknet .weights\u2026",
                                              self.open_write_back_dialog)
        self.verify_action = self._action(file_menu, "&Verify layer by layer",
                                          self.run_verify)
        self.diff_action = self._action(file_menu, "Compare with other weights\u2026",
                                        self.ask_diff)
        self.save_fixed_action = self._action(file_menu, "Save &fixed cfg as\u2026",
                                              self.save_fixed_cfg)
        self.save_fixed_action.setEnabled(False)
        for action in (self.verify_action, self.diff_action):
            action.setEnabled(False)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "&Filter layers", self.layers.filter.setFocus, "Ctrl+F")
        view_menu.addAction(self.problems_dock.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())
        self._action(view_menu, "Expand all", self.layers.tree.expandAll)
        self._action(view_menu, "Collapse all", self.layers.tree.collapseAll)
        help_menu = self.menuBar().addMenu("&Help")
        self.demo_action = self._action(help_menu, "Open &demo model", self.open_demo)
        self.broken_demo_action = self._action(help_menu, "Open &broken demo",
                                               self.open_broken_demo)
        demo = _demo_module()
        for action in (self.demo_action, self.broken_demo_action):
            action.setEnabled(demo is not None and demo.demo_available())
        help_menu.addSeparator()
        self._action(help_menu, "&About", self._about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    # -- logging --------------------------------------------------------------------------
    def log(self, message: str, level: str = "info", details: str = "") -> None:
        self.log_panel.add(message, level, details)
        if level in ("error", "warning"):
            self.statusBar().showMessage(message, 8000)

    # -- opening --------------------------------------------------------------------------
    def ask_open_cfg(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open Darknet cfg", self.settings.folder("cfg"),
                                              "Darknet cfg (*.cfg);;All files (*)")
        if path:
            self.open_cfg(path)

    def ask_open_weights(self) -> None:
        if self.doc.network is None:
            self.log("open a cfg first: the weights are read against its layout", "warning")
            return
        start = self.settings.folder("weights")
        if self.doc.cfg_path and not self.settings.qt.contains("folders/weights"):
            start = os.path.dirname(self.doc.cfg_path)
        path, _ = QFileDialog.getOpenFileName(self, "Open Darknet weights", start,
                                              "Darknet weights (*.weights);;All files (*)")
        if path:
            self.open_weights(path)

    def open_cfg(self, path: str, weights: str | None = None) -> bool:
        """Open a cfg (and optionally its weights). Problems end up in the banner."""
        path = os.fspath(path)
        self._detach_stream()
        if os.path.abspath(path) != os.path.abspath(self.doc.cfg_path or ""):
            self._last_weights = None
        self.watch.watch([path] + [p for p in (weights or self._last_weights,) if p])
        try:
            network = load_network(path, tree=self._chosen_tree(path))
        except InspectorError as exc:
            self.doc.set_cfg_error(path, str(exc))
            self.log(f"cannot open {path}: {exc}", "error")
            return False
        except Exception as exc:  # never die from a bad file
            import traceback

            self.doc.set_cfg_error(path, describe_error(exc))
            self.log(f"cannot open {path}: {describe_error(exc)}", "error",
                     traceback.format_exc())
            return False
        self._sibling = None if weights else sibling_weights(path)
        StatsChild.prestart()  # the weights come next: their stats process starts now
        self.doc.set_network(path, network)
        self.settings.remember_folder("cfg", path)
        self.settings.add_recent(path, weights)
        self.setWindowTitle(f"{os.path.basename(path)} ({os.path.dirname(os.path.abspath(path))})"
                            " \u2014 Darknet Inspector")
        self.log(f"opened {path}: {len(network.layers)} layers, "
                 f"{len(network.diagnostics)} problem(s)")
        failing = sorted(self.doc.error_layers())
        if failing:
            self.select_layer(failing[0])
        if weights:
            self.open_weights(weights)
        return True

    def _chosen_tree(self, cfg: str) -> DarknetTree | None:
        """The tree file chosen for this cfg's `tree=` layer (the Detection preview's Tree
        file... button), read; a file gone bad is said in the log and left out."""
        path = self.settings.tree_file(cfg)
        if path is None:
            return None
        try:
            return read_tree(path)
        except TreeFileError as exc:
            self.log(f"tree file not used: {exc}", "warning")
            return None

    def open_weights(self, path: str) -> None:
        """Stream a weights file against the open cfg in a worker thread."""
        network = self.doc.network
        if network is None:
            self.log("open a cfg first: the weights are read against its layout", "warning")
            return
        path = os.fspath(path)
        self._detach_stream()
        self._sibling = None
        self.settings.remember_folder("weights", path)
        if self.doc.cfg_path:
            self.settings.add_recent(self.doc.cfg_path, path)
        self.doc.begin_stream(path)
        self._last_weights = path
        if self.doc.cfg_path:
            self.watch.watch([self.doc.cfg_path, path])
        # the stats are measured in a child process, so this thread mostly waits (on reads
        # and the child's pipe) and holds the GIL briefly: at normal priority
        runner = TaskRunner(lambda: stream_weights(network, path, child=StatsChild.take()),
                            "stream-weights", self, lower_priority=False)

        def while_current(slot):
            """A detached stream's late signals must not touch the new document."""
            return lambda *args: slot(*args) if runner is self.stream_runner else None

        runner.yielded.connect(while_current(self._stream_item))
        runner.returned.connect(while_current(self.doc.finish_stream))
        runner.errored.connect(while_current(self._stream_failed))
        runner.cancelled.connect(while_current(self.doc.cancel_stream))
        runner.finished.connect(lambda: self._runner_done(runner))
        self.stream_runner = runner
        self._runners.add(runner)
        self.strip.set_running(True)
        self._stream_started_at = time.perf_counter()
        self.log(f"reading {path}")
        runner.start()

    def _stream_item(self, item) -> None:
        if isinstance(item, StreamStart):
            self.doc.stream_sized(item)
        elif isinstance(item, StreamUpdate):
            self.doc.apply(item)

    def _stream_failed(self, message: str, details: str) -> None:
        self.doc.fail_stream(message)
        self.log(f"could not read the weights: {message}", "error", details)

    def cancel_stream(self, wait: bool = False) -> None:
        runner = self.stream_runner
        if runner is not None and runner.running:
            runner.cancel()
            if wait:
                runner.wait()

    def _detach_stream(self) -> None:
        """Stop the current stream for good before another model or file replaces it:
        cancel it, wait for its thread, and stop listening to what it still has queued."""
        if self.diagnosis_runner is not None:  # its result belongs to the old pair
            self.diagnosis_runner.cancel()
            self.diagnosis_runner = None
        runner = self.stream_runner
        if runner is None:
            return
        runner.cancel()
        runner.wait()
        self.stream_runner = None
        if runner not in self._runners:  # already done: nothing will delete it later
            runner.deleteLater()
        if self.strip.running:
            self.strip.set_running(False)

    def _runner_done(self, runner: TaskRunner) -> None:
        self._runners.discard(runner)
        if runner is self.stream_runner:
            if self.strip.running:
                self.strip.set_running(False)
            QTimer.singleShot(0, self._start_torch)  # it waited for the stream to end
        else:
            runner.deleteLater()

    # -- reacting to the document ---------------------------------------------------------
    def _network_changed(self) -> None:
        self.banner.reset_height()
        self._refresh_banner()
        has_model = self.doc.network is not None
        network = self.doc.network
        self.model_summary.setText(
            f"{len(network.layers)} layers \u00b7 {network.param_count:,} parameters \u00b7 "
            f"{network.bflops:.3f} BFLOPS" if network is not None else "")
        self.open_weights_action.setEnabled(has_model)
        self._update_convert_action()

    def _layer_read(self, index: int) -> None:
        """Per layer only a timer is (re)started: the progress strip and its live
        histogram repaint at most every LIVE_VIEW_INTERVAL_MS."""
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _refresh_live_view(self) -> None:
        p = self.doc.progress
        if self.doc.stream_state != "streaming" or not self.doc.records:
            return
        index = max(self.doc.records)
        name = largest_tensor(self.doc.layers[index])
        stats = self.doc.stats.get((index, name)) if name else None
        text = (f"layer {p.layers_done}/{p.layers_total} \u00b7 {p.bytes_done / 1e6:,.1f} of "
                f"{p.total_bytes / 1e6:,.1f} MB" + (f" \u00b7 {index}.{name}" if name else ""))
        self.strip.show_progress(text, p.bytes_done / p.total_bytes if p.total_bytes else 0,
                                 stats)

    def _stream_ended(self) -> None:
        self._live_timer.stop()
        self._refresh_live_view()
        elapsed = time.perf_counter() - self._stream_started_at
        state = self.doc.stream_state
        ledger = self.doc.ledger
        name = os.path.basename(self.doc.weights_path or "")
        self.strip.finish(f"{name}: {len(self.doc.records)} layers read in {elapsed:.2f} s"
                          if state in ("done", "cancelled") else "")
        if state == "done" and ledger is not None:
            self.log(f"read {len(self.doc.records)} layers in {elapsed:.2f} s: {ledger.status}")
            bad = self.doc.first_bad_layer()
            if bad is not None:
                self.select_layer(bad)
            if self.doc.errors():
                self.problems_dock.raise_()
        elif state == "cancelled":
            self.log(f"reading cancelled after {len(self.doc.records)} layers", "warning")
        self._update_convert_action()
        self._refresh_banner()
        if not self._start_diagnosis():
            self.stream_finished.emit(state)

    def _start_diagnosis(self) -> bool:
        """Ask the diagnosis (a worker) why cfg and weights disagree, when they do;
        `stream_finished` follows its result."""
        if not self.doc.needs_diagnosis():
            return False
        # the diagnosis engine is imported when one first runs, not at the app's start
        from darknet_inspector.core.jobs.diagnose import diagnose_weights

        network, path = self.doc.network, self.doc.weights_path
        runner = TaskRunner(lambda: diagnose_weights(network, path), "diagnose", self)

        def while_current(slot):
            return lambda *args: slot(*args) if runner is self.diagnosis_runner else None

        runner.returned.connect(while_current(self._diagnosed))
        runner.errored.connect(while_current(
            lambda message, details: self.log(f"the diagnosis failed: {message}", "error",
                                              details)))
        runner.finished.connect(lambda: self._diagnosis_done(runner))
        self.diagnosis_runner = runner
        self._runners.add(runner)
        runner.start()
        return True

    def _diagnosed(self, findings) -> None:
        self.doc.set_findings(findings)
        top = self.doc.top_finding()
        if top is None:
            return
        self.log(f"diagnosis: {top.cause}" + (f" at layer {top.layer}" if top.layer is not None
                                              else "") + f" ({len(findings)} cause(s))")
        if top.layer is not None:
            self.select_layer(top.layer)
        self._update_convert_action()

    def _diagnosis_done(self, runner: TaskRunner) -> None:
        current = runner is self.diagnosis_runner
        self._runner_done(runner)
        if current:
            self.diagnosis_runner = None
            self.stream_finished.emit(self.doc.stream_state)

    def _refresh_problem_count(self) -> None:
        problems = self.doc.diagnostics()
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        self.problems_dock.setWindowTitle(
            f"Problems ({errors} error(s), {warnings} warning(s))" if problems
            else "Problems (none)")

    def _refresh_banner(self) -> None:
        where = " + ".join(p for p in (self.doc.cfg_path, self.doc.weights_path) if p)
        self.banner.show_verdict(verdict(self.doc, self._sibling), where)

    def _banner_action(self, key: str) -> None:
        if key == "open-cfg":
            self.ask_open_cfg()
        elif key == "open-weights":
            self.ask_open_weights()
        elif key == "open-sibling" and self._sibling:
            self.open_weights(self._sibling)
        elif key == "reload-weights" and self.doc.weights_path:
            self.open_weights(self.doc.weights_path)
        elif key == "save-fixed-cfg":
            self.save_fixed_cfg()

    def _update_convert_action(self) -> None:
        ready = (self.doc.network is not None and self.doc.stream_state == "done"
                 and not self.doc.errors())
        runs = ready and self.torch.is_ready  # converting and verifying run the model
        self.convert_action.setEnabled(runs)
        self.save_fixed_action.setEnabled(self.doc.fix_to_save() is not None)
        self.verify_action.setEnabled(runs)
        self.diff_action.setEnabled(ready)
        self.diff_tab.model_ready(ready)
        for tab in (self.verify_tab, self.preview):
            if tab is not None:
                tab.model_ready(ready)

    # -- selection ------------------------------------------------------------------------
    def select_layer(self, index: int, tensor: str | None = None) -> None:
        """Show a layer (or one of its tensors) in the Layers tab."""
        if 0 <= index < len(self.doc.layers):
            self.tabs.setCurrentIndex(0)
            self.layers.select(index, tensor)

    def _current_changed(self, layer: int, tensor: str) -> None:
        self._current = (layer, tensor)
        self.cfg_view.show_layer(layer)
        name = tensor or largest_tensor(self.doc.layers[layer])
        if name is not None:
            self.tensor_view.show_tensor(layer, name)

    # -- actions --------------------------------------------------------------------------
    def run_verify(self) -> None:
        if self.verify_tab is None:
            self.log("PyTorch is still loading: Verify runs the model", "warning")
            return
        self.tabs.setCurrentWidget(self.verify_tab)
        self.verify_tab.start()

    def ask_diff(self) -> None:
        self.tabs.setCurrentWidget(self.diff_tab)
        self.diff_tab.ask_other()

    def open_write_back_dialog(self):
        if not self.torch.is_ready:
            self.log("PyTorch is still loading: exporting reads a PyTorch model", "warning")
            return None
        from darknet_inspector.gui.write_back_dialog import WriteBackDialog

        dialog = WriteBackDialog(self.settings, self.log, self.doc.cfg_path, self)
        dialog.show()
        return dialog

    def open_convert_dialog(self) -> ConvertDialog | None:
        if self.doc.network is None or not self.doc.weights_path:
            self.log("open a cfg and its weights first", "warning")
            return None
        if self.doc.errors():
            self.log("the model has errors (see Problems); fix them before converting",
                     "warning")
            return None
        if not self.torch.is_ready:
            self.log("PyTorch is still loading: converting runs the model", "warning")
            return None
        from darknet_inspector.gui.convert_dialog import ConvertDialog

        dialog = ConvertDialog(self.doc.network, self.doc.weights_path, self.settings,
                               self.log, self)
        dialog.show()
        return dialog

    def export_tensor(self, layer: int, name: str, path: str | None = None) -> None:
        tensor = self.doc.tensor_record(layer, name)
        if tensor is None or tensor.values is None:
            return
        if path is None:
            default = os.path.join(self.settings.folder("export"),
                                   f"layer{layer:03d}_{name.replace('.', '_')}.npy")
            path, _ = QFileDialog.getSaveFileName(self, "Export tensor", default,
                                                  "NumPy array (*.npy)")
            if not path:
                return
        self.settings.remember_folder("export", path)
        values = tensor.values
        runner = TaskRunner(lambda: save_array(values, path), "export", self)
        runner.returned.connect(lambda p: self.log(f"wrote {p}"))
        runner.errored.connect(lambda m, d: self.log(f"export failed: {m}", "error", d))
        runner.finished.connect(lambda: self._runner_done(runner))
        self._runners.add(runner)
        runner.start()

    def save_fixed_cfg(self, path: str | None = None) -> bool:
        """Write the diagnosis' cfg fix to a NEW cfg (never over the open one) and reopen
        it with the same weights."""
        finding, original = self.doc.fix_to_save(), self.doc.cfg_path
        weights = self.doc.weights_path
        if finding is None or finding.fixed_cfg is None or not original:
            self.log("no cfg fix to save: the diagnosis has not found one", "warning")
            return False
        if path is None:
            stem, ext = os.path.splitext(original)
            path, _ = QFileDialog.getSaveFileName(self, "Save fixed cfg as", f"{stem}-fixed"
                                                  f"{ext or '.cfg'}",
                                                  "Darknet cfg (*.cfg);;All files (*)")
            if not path:
                return False
        try:
            run_job(save_fixed_cfg(finding.fixed_cfg, path, original))
        except (InspectorError, OSError) as exc:
            self.log(f"cannot save the fixed cfg: {describe_error(exc)}", "error")
            return False
        self.log(f"wrote {path} ({finding.cause} fix: {finding.fix}); reopening it")
        return self.open_cfg(path, weights)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        entries = self.settings.recent()
        if not entries:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for cfg, weights in entries:
            text = os.path.basename(cfg) + (f" + {os.path.basename(weights)}" if weights else "")
            action = self.recent_menu.addAction(f"{text}   \u2014 {short_folder(cfg)}")
            action.setToolTip(cfg + (f"\n{weights}" if weights else ""))
            action.triggered.connect(lambda checked=False, c=cfg, w=weights: self.open_cfg(c, w))

    def reload(self) -> bool:
        """Open the cfg and weights again from disk (F5, or a file watch), keeping the
        selected layer and the tab."""
        cfg, weights = self.doc.cfg_path, self.doc.weights_path or self._last_weights
        if not cfg:
            return False
        tab, current = self.tabs.currentIndex(), self._current
        self.log(f"reloading {cfg}" + (f" and {os.path.basename(weights)}" if weights else ""))
        opened = self.open_cfg(cfg, weights)
        if opened and current is not None and current[0] < len(self.doc.layers):
            self.layers.select(current[0], current[1] or None)
        self.tabs.setCurrentIndex(tab)
        return opened

    def open_demo(self) -> bool:
        """The bundled demo detector (with its sample image in the preview)."""
        demo = _demo_module()
        if demo is None or not demo.demo_available():
            return False
        files = demo.demo_files()
        if self.preview is not None:  # the sample's boxes are ready when its tab is opened
            self.preview.open_image(str(files.image), run=False)
            self.preview.run_when_ready = True
        else:  # the preview is built when PyTorch is loaded
            self._pending_image = (str(files.image), True)
        return self.open_cfg(str(files.cfg), str(files.weights))

    def open_broken_demo(self) -> bool:
        """A copy of the demo whose cfg and weights disagree, written to a temp folder."""
        demo = _demo_module()
        if demo is None or not demo.demo_available():
            return False
        folder = os.path.join(tempfile.gettempdir(), "darknet-inspector-broken-demo")
        try:
            cfg, weights = demo.make_broken_demo(folder)
        except (InspectorError, OSError) as exc:
            self.log(f"cannot write the broken demo: {exc}", "error")
            return False
        return self.open_cfg(str(cfg), str(weights))

    def _about(self) -> None:
        QMessageBox.about(self, "Darknet Inspector",
                          "Open Darknet models (.cfg + .weights), see every layer, find where "
                          "cfg and weights disagree, convert to PyTorch, preview detections.")

    # -- drag and drop --------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(self._kind(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_paths([u.toLocalFile() for u in event.mimeData().urls()])
        event.acceptProposedAction()

    @staticmethod
    def _kind(path: str) -> str | None:
        lower = path.lower()
        for kind, suffixes in (("cfg", CFG_SUFFIXES), ("weights", WEIGHTS_SUFFIXES),
                               ("image", IMAGE_SUFFIXES)):
            if lower.endswith(suffixes):
                return kind
        return None

    def open_paths(self, paths: list[str]) -> None:
        """What a drop does: a cfg (+ weights) opens the model, weights alone stream
        against the open cfg, an image goes to the preview."""
        by_kind: dict[str, list[str]] = {}
        for path in paths:
            kind = self._kind(path)
            if kind is None:
                self.log(f"ignored {path}: not a .cfg, .weights or image", "warning")
            else:
                by_kind.setdefault(kind, []).append(path)
        cfgs, weights = by_kind.get("cfg", []), by_kind.get("weights", [])
        if cfgs:
            self.open_cfg(cfgs[0], weights[0] if weights else None)
        elif weights:
            self.open_weights(weights[0])
        images = by_kind.get("image", [])
        if images and self.preview is not None:
            self.preview.open_image(images[0])
            self.tabs.setCurrentWidget(self.preview)
        elif images:  # shown (not run) once the preview is built
            self._pending_image = (images[0], False)
            self.tabs.setCurrentWidget(self._model_tabs[MODEL_TABS[0]])

    # -- layout ---------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            fit_window(self)  # saved on a larger screen: keep it on this one
        state = self.settings.layout("state")
        if state is not None:
            self.restoreState(state)
        for key, splitter in (("main_split", self.main_split), ("right_split", self.right_split)):
            saved = self.settings.layout(key)
            if saved is not None:
                splitter.restoreState(saved)

    def save_layout(self) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("state", self.saveState())
        self.settings.set_layout("main_split", self.main_split.saveState())
        self.settings.set_layout("right_split", self.right_split.saveState())
        self.settings.sync()

    def _close_if_idle(self) -> None:
        """Finish a close that waited for running tasks, once they have all ended."""
        from PySide6.QtWidgets import QApplication

        if not running_tasks():
            self._close_when_idle.stop()
            self.close()
            app = QApplication.instance()
            # a hidden window's close does not count as the last window closing
            if (isinstance(app, QApplication) and app.quitOnLastWindowClosed()
                    and not any(w.isVisible() for w in app.topLevelWidgets())):
                app.quit()  # does nothing unless the app's own event loop runs

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._layout_saved:  # as the user left it, also when the close must
            self.save_layout()  # wait for tasks (the window is hidden by then)
            self._layout_saved = True
        if cancel_all():  # a task still runs (a long forward pass): never destroy it
            self.hide()  # the window goes at once, the event loop keeps running
            event.ignore()
            if not self._close_when_idle.isActive():
                self._close_when_idle.start()
            return
        self._close_when_idle.stop()
        if self.preview is not None:
            self.preview.shutdown()
        if self.verify_tab is not None:
            self.verify_tab.shutdown()
        self.diff_tab.shutdown()
        super().closeEvent(event)
