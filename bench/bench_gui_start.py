"""Whole-process start of the desktop app (issue 15): launch -> window with the layer tree
drawn, launch -> yolov4's 258 MB of weights streamed with their histograms, launch ->
PyTorch loaded in the background, against `python -c "import torch"` in the same run;
and the longest stall of the event loop from launch until torch is loaded, with and
without mapping torch's libraries before the import (gui/torch_loader.py's
`preload_torch_libraries`; the app with it and one with it replaced by a no-op alternate).

    .venv/bin/python bench/bench_gui_start.py [--repeat 5] [--cfg PATH]

Every round runs, alternating, two fresh processes: `darknet-inspector gui CFG WEIGHTS`
(offscreen unless QT_QPA_PLATFORM says otherwise; it quits once torch is loaded) and
`python -c "import torch"`. The app's times come from inside it (time.time() at the
tree's first paint with rows, at `stream_finished`, at the torch loader's `ready`),
measured from just before the process was started. Goals: window <= 1.0 s, stream
<= 2.5 s after launch. The weights are random (core.weights.random_weights), in a temp
folder. Both processes may cache bytecode (PYTHONDONTWRITEBYTECODE is dropped; the cache
goes to the temp folder through PYTHONPYCACHEPREFIX, filled by a warm-up round), as an
installed app's compiled modules are: compiling our ~90 modules at every start would add
~0.2 s that no user pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CFG = ROOT.parent / "shared" / "zoo" / "cfg" / "yolov4.cfg"
WINDOW_GOAL_S, STREAM_GOAL_S = 1.0, 2.5

APP = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

marks = {}
gap = {"last": None, "worst": 0.0}
if sys.argv[3] == "plain":
    import darknet_inspector.gui.torch_loader as loader
    loader.preload_torch_libraries = lambda: False

def probe():
    now = time.perf_counter()
    if gap["last"] is not None and "torch" not in marks:
        gap["worst"] = max(gap["worst"], now - gap["last"])
    gap["last"] = now

class TreePainted(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and "window" not in marks \
                and self.window.layers.tree.model().rowCount() > 0:
            marks["window"] = time.time()
        return False

def exec_(*_):
    app = QApplication.instance()
    window = next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")
    window.layers.tree.viewport().installEventFilter(TreePainted(window))

    def mark(name):
        marks.setdefault(name, time.time())
        if {"stream", "torch"} <= marks.keys():
            print("MARKS", marks.get("window", 0), marks["stream"], marks["torch"],
                  gap["worst"], window.doc.stream_state, len(window.doc.stats), flush=True)
            app.quit()

    window.stream_finished.connect(lambda state: mark("stream"))
    window.torch.ready.connect(lambda: mark("torch"))
    window.torch.failed.connect(lambda message: mark("torch"))
    if window.torch.is_ready:
        marks["torch"] = 0.0
    QTimer.singleShot(60_000, app.quit)
    ticker = QTimer(window)
    ticker.timeout.connect(probe)
    ticker.start(5)
    return REAL_EXEC()

REAL_EXEC = QApplication.exec
QApplication.exec = exec_
from darknet_inspector.launcher import main
sys.exit(main(["gui", sys.argv[1], sys.argv[2]]))
"""


def run_app(cfg: Path, weights: Path, env: dict, preload: bool = True
            ) -> tuple[float, float, float, float, str]:
    start = time.time()
    done = subprocess.run([sys.executable, "-c", APP, str(cfg), str(weights),
                           "preload" if preload else "plain"], env=env,
                          capture_output=True, text=True, timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("MARKS")), None)
    if line is None:
        raise SystemExit(f"the app did not report (exit {done.returncode}):\n{done.stdout}"
                         f"{done.stderr[-3000:]}")
    _, window, stream, torch, stall, state, stats = line.split()
    return (float(window) - start, float(stream) - start,
            float(torch) - start if float(torch) else 0.0, float(stall),
            f"{state}, {stats} tensors")


def import_torch(env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cfg", type=Path, default=DEFAULT_CFG)
    args = parser.parse_args()
    if not args.cfg.is_file():
        print(f"{args.cfg}: not found (needs ../shared/zoo beside the checkout)")
        return 2
    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.weights import random_weights, write_weights

    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as folder:
        cfg = Path(folder) / args.cfg.name
        cfg.write_text(args.cfg.read_text())
        weights = cfg.with_suffix(".weights")
        network = load_network(cfg)
        write_weights(weights, network, random_weights(network, seed=1))
        env = dict(os.environ, HOME=folder, XDG_CONFIG_HOME=folder,  # fresh settings
                   PYTHONPYCACHEPREFIX=str(Path(folder) / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        run_app(cfg, weights, env)  # warm-up: page cache, .pyc files
        import_torch(env)
        windows, streams, torches, imports, stalls, plain = [], [], [], [], [], []
        for _ in range(args.repeat):
            window, stream, torch, stall, said = run_app(cfg, weights, env)
            windows.append(window), streams.append(stream), torches.append(torch)
            stalls.append(stall)
            imports.append(import_torch(env))
            plain.append(run_app(cfg, weights, env, preload=False)[3])
    floor = statistics.median(imports)
    print(f"{args.cfg.name} with random weights ({weights_mb(network):.1f} MB), {args.repeat} "
          f"rounds, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"the app's stream: {said}")
    for name, values, goal in (("window with the tree", windows, WINDOW_GOAL_S),
                               ("weights streamed", streams, STREAM_GOAL_S),
                               ("torch loaded", torches, None)):
        median = statistics.median(values)
        print(f"  launch -> {name:22s} {median:5.2f} s (min {min(values):.2f}); "
              f"{median / floor:.2f}x import torch" + (f"; goal <= {goal} s" if goal else ""))
    print(f"  python -c 'import torch'        {floor:5.2f} s (min {min(imports):.2f})")
    print(f"  longest UI stall until torch is loaded: {statistics.median(stalls) * 1e3:.0f} ms "
          f"(max {max(stalls) * 1e3:.0f}); without the library preload "
          f"{statistics.median(plain) * 1e3:.0f} ms (max {max(plain) * 1e3:.0f})")
    return 0


def weights_mb(network) -> float:
    return network.weight_bytes() / 1e6


if __name__ == "__main__":
    sys.exit(main())
