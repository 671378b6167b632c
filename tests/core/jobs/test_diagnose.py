"""The diagnosis job: one progress step, then the engine's findings, read into memory
(the app) or from a memory map (the command line) alike."""

from __future__ import annotations

from darknet_inspector.core.demo import demo_files, make_broken_demo
from darknet_inspector.core.diagnosis.engine import diagnose
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.diagnose import diagnose_weights
from darknet_inspector.core.network import load_network


def test_job_yields_a_step_and_returns_the_engines_findings(tmp_path):
    cfg, weights = make_broken_demo(tmp_path)
    network = load_network(cfg)
    steps: list[str] = []
    found = run_job(diagnose_weights(network, str(weights)), steps.append)
    assert steps == [f"diagnosing {weights.name}"]
    assert [f.cause for f in found] == ["classes", "truncated"]
    assert [f.to_dict() for f in found] == [f.to_dict() for f in diagnose(network, weights)]
    mapped = run_job(diagnose_weights(network, str(weights), copy=False))
    assert [f.to_dict() for f in mapped] == [f.to_dict() for f in found]


def test_job_on_a_matching_pair_or_an_empty_file_finds_nothing(tmp_path):
    files = demo_files()
    network = load_network(files.cfg)
    assert run_job(diagnose_weights(network, str(files.weights))) == []
    empty = tmp_path / "empty.weights"
    empty.write_bytes(b"")
    assert run_job(diagnose_weights(network, str(empty))) == []
    short = tmp_path / "short.weights"
    short.write_bytes(b"\1\0\0\0")
    assert run_job(diagnose_weights(network, str(short))) == []
