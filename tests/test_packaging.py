"""The wheel: one top-level package, darknet_inspector, that works installed (not only from
the checkout): `inspect`, `detect` and the desktop app run on the bundled demo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The packages pyproject.toml must list: every folder of core/ and gui/ with an __init__.
PACKAGE_FOLDERS = {"core": "darknet_inspector.core", "gui": "darknet_inspector.gui",
                   "resources": "darknet_inspector.resources"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(build)})
    if done.returncode != 0:
        pytest.fail(f"pip wheel failed: {done.stderr[-2000:]}")
    (found,) = out.glob("darknet_inspector-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as pip installs a pure-Python wheel: its files under one folder."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_wheel_has_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(
        (".dist-info", ".data"))}
    assert tops == {"darknet_inspector"}
    assert "darknet_inspector/resources/demo/demo.weights" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "darknet_inspector.launcher:main" in archive.read(entry).decode()


def test_every_source_package_is_in_the_wheel(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for folder, package in PACKAGE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.relative_to(ROOT / folder).as_posix()
            assert f"{package.replace('.', '/')}/{relative}" in names, (
                f"{init} is not packaged: add it to [tool.setuptools] packages")


def _run_installed(installed: Path, code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Python with only the unpacked wheel importable as darknet_inspector (the checkout
    is neither the working folder nor on the path)."""
    env = {**os.environ, "PYTHONPATH": str(installed), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # the app's settings stay here
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_installed_wheel_inspects_and_detects_the_demo(installed, tmp_path):
    code = (
        "import sys, darknet_inspector.core.cli as cli\n"
        "assert cli.__file__.startswith(sys.argv[1]), cli.__file__\n"
        "from darknet_inspector.core.demo import demo_files\n"
        "from darknet_inspector.launcher import main\n"
        "f = demo_files()\n"
        "assert main(['inspect', str(f.cfg), str(f.weights)]) == 0\n"
        "assert main(['detect', str(f.cfg), str(f.weights), str(f.image), '--names',"
        " str(f.names)]) == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(installed)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(installed)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cfg needs 971,948: ok" in done.stdout
    assert "detection" in done.stdout


def test_installed_wheel_runs_the_desktop_app_on_the_demo(installed, tmp_path):
    code = (
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from darknet_inspector.gui import app\n"
        "qapp = app.make_application()\n"
        "assert not qapp.windowIcon().isNull(), 'the icon was not found'\n"
        "def look():\n"
        "    titles = [w.windowTitle() for w in QApplication.topLevelWidgets()"
        " if w.isVisible()]\n"
        "    print('windows:', titles)\n"
        "    qapp.quit()\n"
        "QTimer.singleShot(4000, look)\n"
        "raise SystemExit(app.run_app(None, None))\n"
    )
    done = _run_installed(installed, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo" in done.stdout.lower(), done.stdout


def test_one_install_brings_onnx_onnxruntime_and_opencv_4():
    """The README's run command alone must give ONNX export (checked with onnxruntime)
    and Verify (OpenCV 4: OpenCV 5 has no Darknet importer)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].strip(): d
             for d in project["dependencies"]}
    assert {"onnx", "onnxruntime", "opencv-python-headless"} <= set(names)
    assert "<5" in names["opencv-python-headless"]
