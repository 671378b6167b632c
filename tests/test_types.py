"""mypy on the engine (issue 10): `mypy -p darknet_inspector.core` with pyproject.toml's
[tool.mypy] reports no error.

setuptools maps core/ to `darknet_inspector.core` (package-dir), which mypy cannot follow;
the test builds the installed layout from symlinks in a temporary folder and runs mypy
there (about 40 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("mypy")


def package_tree(folder: Path) -> Path:
    """darknet_inspector/{__init__.py, core, resources} as symlinks into the checkout."""
    package = folder / "darknet_inspector"
    package.mkdir(parents=True)
    (package / "__init__.py").symlink_to(ROOT / "darknet_inspector" / "__init__.py")
    for name in ("core", "resources"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    return folder


def test_mypy_finds_no_error_in_core(tmp_path):
    tree = package_tree(tmp_path / "tree")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", "-p",
         "darknet_inspector.core"],
        cwd=tree, capture_output=True, text=True, timeout=600)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 0 and not errors, (
        f"mypy: {len(errors)} errors\n" + "\n".join(errors[:60]) + done.stderr[-2000:])
