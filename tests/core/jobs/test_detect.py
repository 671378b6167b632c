"""The detect job: the CLI's `detect` and the app's preview build the detector in one
place, which folds batch norm as Darknet's `detector test` does."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.demo import demo_available, demo_files
from darknet_inspector.core.jobs import detect as detect_job
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.detect import DetectorKey, DetectRequest, detect
from darknet_inspector.core.network import load_network
from darknet_inspector.core.read_ahead import ReadAhead

pytestmark = pytest.mark.skipif(not demo_available(), reason="this checkout has no demo")


def test_detect_reads_the_image_then_builds_a_bn_folded_detector():
    files = demo_files()
    key = DetectorKey(str(files.cfg), str(files.weights), str(files.names), "cpu", None)
    steps: list[str] = []
    outcome = run_job(detect(DetectRequest(load_network(str(files.cfg)), key,
                                           str(files.image), 0.25, 0.45)), steps.append)
    assert steps[0].startswith("reading") and steps[1].startswith("loading the model")
    assert outcome.detections and outcome.drawn is not None
    normalized = [m for m in outcome.detector.model.layers
                  if getattr(m, "batch_normalize", False)]
    assert normalized and all(m.fused for m in normalized)


def test_the_cli_detect_runs_the_detect_job_and_its_detector(monkeypatch, capsys):
    files = demo_files()
    built = []

    def recorded(network, key, ahead=None):
        detector = build(network, key, ahead)
        built.append((key, ahead, detector))
        return detector

    def not_here(path):
        raise AssertionError("the CLI decodes the image on a thread (ImageAhead)")

    build = detect_job.build_detector
    monkeypatch.setattr(detect_job, "build_detector", recorded)
    monkeypatch.setattr(detect_job, "load_image", not_here)
    assert main(["detect", str(files.cfg), str(files.weights), str(files.image),
                 "--names", str(files.names)]) == 0
    assert [(k.weights, k.device, k.half) for k, _, _ in built] == [
        (str(files.weights), "cpu", False)]
    # the weights were already being read (on a thread, while torch imported: issue 15),
    # and the detector that runs one image never packed its weights (fastconv)
    assert [ahead.path for _, ahead, _ in built] == [str(files.weights)]
    convs = [m for _, _, d in built for m in d.model.layers if hasattr(m, "packed")]
    assert convs and all(not m.packed.packs and m.packed.packed is None for m in convs)
    assert "detection" in capsys.readouterr().out


def test_a_detector_run_once_detects_what_a_packed_one_detects():
    files = demo_files()
    network = load_network(str(files.cfg))
    key = DetectorKey(str(files.cfg), str(files.weights), str(files.names), "cpu", None)
    packed, once = (run_job(detect(DetectRequest(network, key, str(files.image), 0.25, 0.45,
                                                 once=once))) for once in (False, True))
    assert packed.detections and len(once.detections) == len(packed.detections)
    for a, b in zip(once.detections, packed.detections):
        assert (a.class_id, a.name) == (b.class_id, b.name)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
        assert a.box == pytest.approx(b.box, abs=1e-3)


def test_a_detector_built_from_a_read_under_way_detects_the_same():
    files = demo_files()
    network = load_network(str(files.cfg))
    key = DetectorKey(str(files.cfg), str(files.weights), str(files.names), "cpu", None)
    plain = run_job(detect(DetectRequest(network, key, str(files.image), 0.25, 0.45)))
    with ReadAhead(network, files.weights) as ahead:
        early = run_job(detect(DetectRequest(network, key, str(files.image), 0.25, 0.45,
                                             ahead=ahead)))
    assert [d.to_dict() for d in early.detections] == [d.to_dict() for d in plain.detections]
    assert early.detections
