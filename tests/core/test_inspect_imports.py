"""Commands that only look never import torch (DESIGN.md): `inspect` of a model with its
weights (the layer tree, the byte ledger, tensor statistics, the diagnosis) runs in a
fresh interpreter without `torch` ever entering sys.modules; so does `detect` on the CPU
when the numpy engine runs the model (issue 15: `import torch` alone costs about what
OpenCV's whole detection pipeline costs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DEMO = ROOT / "resources" / "demo"
PROBE = """
import contextlib, io, json, sys
from darknet_inspector.core.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": sorted(m for m in sys.modules
                                               if m == "torch" or m.startswith("torch."))}))
"""


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_inspect_with_weights_never_imports_torch(extra):
    done = subprocess.run([sys.executable, "-c", PROBE, "inspect", str(DEMO / "demo.cfg"),
                           str(DEMO / "demo.weights"), *extra],
                          capture_output=True, text=True, timeout=120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    assert result["torch"] == []


def probe(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                          text=True, timeout=300)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def test_detect_on_the_cpu_never_imports_torch(tmp_path):
    out = tmp_path / "boxes.json"
    result = probe("detect", str(DEMO / "demo.cfg"), str(DEMO / "demo.weights"),
                   str(DEMO / "sample.jpg"), "--json", str(out))
    assert result["code"] == 0, result["stderr"]
    assert result["torch"] == []
    assert json.loads(out.read_text())["detections"]


def test_detect_with_the_torch_engine_imports_it():
    """The probe sees torch when it is there: the test above could not pass vacuously."""
    result = probe("detect", str(DEMO / "demo.cfg"), str(DEMO / "demo.weights"),
                   str(DEMO / "sample.jpg"), "--engine", "torch")
    assert result["code"] == 0, result["stderr"]
    assert "torch" in result["torch"]


def test_naming_a_finding_does_not_load_the_diagnosis_engine():
    """The report, detect and convert name Findings; the hypotheses and the zoo table
    load only when a diagnosis runs (`detect` never runs one)."""
    code = ("import sys, darknet_inspector.core.report, darknet_inspector.core.model_state; "
            "print('darknet_inspector.core.diagnosis.engine' in sys.modules, "
            "'darknet_inspector.core.diagnosis.zoo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr
