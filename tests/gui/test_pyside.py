"""The PySide6 the app depends on keeps None, True and False alive.

PySide6 6.12.0 on CPython 3.11 drops one reference to None on every Qt call that returns
nothing and to True/False on every bool result; once a count reaches zero the interpreter
aborts ("Fatal Python error: none_dealloc"), in the app after a minute of scrolling.
pyproject.toml asks for PySide6-Essentials<6.12 (6.11.3 measured fine); this test makes
sure whatever is installed does not have the bug. In a subprocess, so that a regression
kills it and not the test run."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

CALLS = 200_000
SCRIPT = f"""
import sys
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel

app = QApplication([])
label, box = QLabel(), QCheckBox()
box.setChecked(True)
singletons = (None, True, False)
before = [sys.getrefcount(s) for s in singletons]
for _ in range({CALLS}):
    label.setText("x")   # void: returns None
    label.isVisible()    # False (never shown)
    box.isChecked()      # True
after = [sys.getrefcount(s) for s in singletons]
print(*before)
print(*after)
"""


def test_qt_calls_do_not_use_up_none_true_and_false():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, f"the Qt calls aborted Python: {done.stderr[-2000:]}"
    before, after = ([int(n) for n in line.split()] for line in done.stdout.splitlines())
    for name, b, a in zip(("None", "True", "False"), before, after):
        assert a >= b - 100, f"{CALLS:,} Qt calls took {b - a:,} references to {name}"
