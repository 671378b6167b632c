"""Start the desktop app under Xvfb on a model and save a screenshot (PNG).

    .venv/bin/python scripts/screenshot.py CFG [WEIGHTS] -o shot.png
        [--tab layers|preview|graph|featuremaps|verify|diff] [--select 12 | --select 12.weights]
        [--filter TEXT] [--compare B.weights]
        [--image photo.jpg] [--names coco.names] [--truncate 0.6] [--size 1400x900]

Without a DISPLAY it starts its own Xvfb (apt-get install xvfb); --offscreen renders
with Qt's offscreen platform instead. --truncate F opens a copy of WEIGHTS cut to the
fraction F of its size (the mismatch state). Settings go to a temp file, never to the
user's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WAIT_S = 120


def start_xvfb(size: tuple[int, int]) -> subprocess.Popen | None:
    """A private X server on a free display number; None when Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        return None
    for number in range(91, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{size[0] + 64}x{size[1] + 64}x24",
             "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return server
            if server.poll() is not None:
                break
            time.sleep(0.1)
        server.kill()
    return None


def wait_for(signal, timeout_s: float = WAIT_S) -> list:
    """Run the event loop until `signal` fires (or the timeout); returns its arguments."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, got = QEventLoop(), []

    def fired(*args):
        got.append(args)
        loop.quit()

    signal.connect(fired)
    QTimer.singleShot(round(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(fired)
    return got


def settle(ms: int = 400) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def truncated_copy(weights: str, fraction: float, folder: str) -> str:
    target = Path(folder) / Path(weights).name
    size = os.path.getsize(weights)
    with open(weights, "rb") as source, open(target, "wb") as out:
        out.write(source.read(int(size * fraction)))
    return str(target)


def grab(window, path: str) -> None:
    """What the X server shows of the window (its widgets rendered if that fails)."""
    from PySide6.QtGui import QGuiApplication

    screen = QGuiApplication.primaryScreen()
    picture = None
    if os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb" and screen is not None:
        picture = screen.grabWindow(window.winId())
    if picture is None or picture.isNull():
        picture = window.grab()
    if not picture.save(path):
        raise SystemExit(f"cannot write {path}")


def take(args: argparse.Namespace, settings_file: str, temp: str) -> None:
    from PySide6.QtCore import QSettings

    from darknet_inspector.gui.app import make_application
    from darknet_inspector.gui.main_window import MainWindow
    from darknet_inspector.gui.settings import AppSettings

    app = make_application()
    window = MainWindow(AppSettings(QSettings(settings_file, QSettings.Format.IniFormat)))
    window.resize(*args.size)
    window.show()
    if args.tab == "loading":  # the Detection preview while PyTorch loads (issue 15)
        window.tabs.setCurrentIndex(1)
        settle(100)
        grab(window, args.output)
        print(f"saved {args.output} (torch: {window.torch.state})")
        return
    settle()
    if args.tab in ("preview", "featuremaps", "verify") and not window.torch.is_ready:
        wait_for(window.torch.ready)  # those tabs are built once PyTorch is loaded
    weights = args.weights
    if weights and args.truncate is not None:
        weights = truncated_copy(weights, args.truncate, temp)
    if weights:
        window.open_cfg(args.cfg)
        window.open_weights(weights)
        state = window.doc.stream_state
        if state == "streaming":
            state = wait_for(window.stream_finished)[0][0]
        print(f"weights: {state}; banner: {window.banner.text()}")
    else:
        window.open_cfg(args.cfg)
        print(f"banner: {window.banner.text()}")
    if args.filter:
        window.layers.filter.setText(args.filter)
    if args.select:
        layer, _, tensor = args.select.partition(".")
        window.select_layer(int(layer), tensor or None)
    if args.tab == "preview":
        show_preview(window, args)
    if args.tab == "graph":
        window.tabs.setCurrentWidget(window.graph)
    if args.tab == "featuremaps":
        show_feature_maps(window, args)
    if args.tab == "verify":
        show_verify(window, args)
    if args.tab == "diff":
        show_diff(window, args)
    settle(600)
    app.processEvents()
    grab(window, args.output)
    print(f"saved {args.output} ({window.width()}x{window.height()})")
    window.close()


def show_feature_maps(window, args: argparse.Namespace) -> None:
    """Run the feature-maps tab on --image (the demo's sample for the demo cfg) for the
    selected layer (grid, sorted by max)."""
    import time

    from PySide6.QtWidgets import QApplication

    tab = window.feature_maps
    image = args.image or demo_image_for(args.cfg) or window.preview.image_path
    if not image:
        raise SystemExit("--tab featuremaps needs --image (the demo cfg brings its sample)")
    window.preview.open_image(str(image), run=False)
    window.tabs.setCurrentWidget(tab)
    tab.sort.setCurrentText("max")
    tab.compute()
    deadline = time.monotonic() + 120
    while tab.maps is None and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    print(f"feature maps: {tab.status.text()}")


def show_verify(window, args: argparse.Namespace) -> None:
    """The Verify tab, run on --image (the demo's sample for the demo cfg) when it can run."""
    tab = window.verify_tab
    window.tabs.setCurrentWidget(tab)
    image = args.image or demo_image_for(args.cfg)
    if image:
        tab.image.setText(image)
    if tab.run_button.isEnabled():
        tab.start()
        wait_for(tab.report_ready)
    print(f"verify: {tab.status.text()}")


def show_diff(window, args: argparse.Namespace) -> None:
    """The Weights diff tab, compared with --compare when given."""
    tab = window.diff_tab
    window.tabs.setCurrentWidget(tab)
    if args.compare and tab.open_button.isEnabled():
        tab.compare_with(args.compare)
        wait_for(tab.changed)
    print(f"diff: {tab.summary.text()}")


def demo_image_for(cfg: str) -> str | None:
    """The demo's sample image when CFG is the bundled demo (the app opens it only then)."""
    from darknet_inspector.core.demo import demo_available, demo_files

    if not demo_available():
        return None
    files = demo_files()
    same = os.path.abspath(cfg) == os.path.abspath(files.cfg)
    return str(files.image) if same else None


def show_preview(window, args: argparse.Namespace) -> None:
    preview = window.preview
    if preview is None:
        raise SystemExit("the detection preview is not available (core.detect missing)")
    if args.names:
        preview.set_names(args.names)
    image = args.image or demo_image_for(args.cfg)
    if image:
        preview.open_image(image, run=False)
    window.tabs.setCurrentWidget(preview)  # showing the tab runs the detector
    if preview.image_path:
        if preview.outcome is None and not (preview.runner and preview.runner.running):
            preview.run()
        wait_for(preview.shown)
    print(f"preview: {preview.status.text()}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Screenshot of Darknet Inspector on a model")
    parser.add_argument("cfg")
    parser.add_argument("weights", nargs="?")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--tab", choices=["layers", "loading", "preview", "graph", "featuremaps",
                                          "verify", "diff"],
                        default="layers")
    parser.add_argument("--select", help="layer index, or index.tensor (e.g. 12.weights)")
    parser.add_argument("--filter", help="text for the layer filter box")
    parser.add_argument("--image", help="image for the preview tab")
    parser.add_argument("--names", help="class names file for the preview tab")
    parser.add_argument("--compare", help="second .weights for the diff tab")
    parser.add_argument("--truncate", type=float, help="open WEIGHTS cut to this fraction")
    parser.add_argument("--size", default="1400x900",
                        type=lambda v: tuple(int(x) for x in v.lower().split("x")))
    parser.add_argument("--offscreen", action="store_true", help="no X server: Qt offscreen")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    server = None
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not os.environ.get("DISPLAY"):
        server = start_xvfb(args.size)
        if server is None:
            print("Xvfb not found (apt-get install xvfb): rendering offscreen instead")
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        else:
            os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        with tempfile.TemporaryDirectory() as temp:
            take(args, os.path.join(temp, "settings.ini"), temp)
    finally:
        if server is not None:
            server.terminate()
            server.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
