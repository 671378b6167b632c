"""The project's own contracts: CI runs the README's test command; core never imports Qt."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command.strip() in (ROOT / ".ci" / "run").read_text()


def test_core_never_imports_qt():
    for path in (ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("PySide6", "PyQt", "pyqtgraph")), (
                    f"{path} imports {name}")
                if name.startswith("gui"):  # only the launcher may start the app
                    assert path.name == "cli.py", f"{path} imports {name}"


def test_ruff_is_clean():
    """`ruff check` (pyproject.toml's rules) passes on the whole tree."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
