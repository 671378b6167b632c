"""The detect job: the CLI's `detect` and the app's preview build the detector in one
place, which folds batch norm as Darknet's `detector test` does and picks the engine
(numpy on the CPU when it runs the model, else torch)."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.demo import demo_available, demo_files
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.jobs import detect as detect_job
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.detect import DetectorKey, DetectRequest, chosen_engine, detect
from darknet_inspector.core.network import load_network
from darknet_inspector.core.read_ahead import ReadAhead
from tests.conftest import zoo_path
from tests.helpers import net_from_text, write_random_weights

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

    def recorded(network, key, ahead=None, once=False):
        detector = build(network, key, ahead, once)
        built.append((key, ahead, detector))
        return detector

    def not_here(path):
        raise AssertionError("the CLI decodes the image on a thread (ImageAhead)")

    build = detect_job.build_detector
    monkeypatch.setattr(detect_job, "build_detector", recorded)
    monkeypatch.setattr(detect_job, "load_image", not_here)
    for engine in ("torch", "auto"):
        assert main(["detect", str(files.cfg), str(files.weights), str(files.image),
                     "--names", str(files.names), "--engine", engine]) == 0
    assert [(k.weights, k.device, k.half, k.engine) for k, _, _ in built] == [
        (str(files.weights), "cpu", False, "torch"), (str(files.weights), "cpu", False, "auto")]
    # auto on the CPU: the numpy engine (no torch import, issue 15) runs the demo model
    assert [d.engine.name for _, _, d in built] == ["torch", "numpy"]
    # the weights were already being read (on a thread, while the engine loaded: issue
    # 15), and the torch detector that runs one image never packed its weights (fastconv)
    assert [ahead.path for _, ahead, _ in built] == [str(files.weights)] * 2
    convs = [m for m in built[0][2].model.layers if hasattr(m, "packed")]
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


LOCAL_CFG = ("[net]\nwidth=16\nheight=16\nchannels=3\n\n"
             "[local]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n")


def key_for(engine: str, device: str = "cpu") -> DetectorKey:
    return DetectorKey("m.cfg", "m.weights", None, device, None, engine=engine)


def test_auto_takes_numpy_on_the_cpu_and_torch_for_what_numpy_does_not_run():
    covered = load_network(str(demo_files().cfg))
    uncovered = net_from_text(LOCAL_CFG)
    assert chosen_engine(covered, key_for("auto")) == "numpy"
    assert chosen_engine(uncovered, key_for("auto")) == "torch"
    assert chosen_engine(covered, key_for("auto", "cuda:0")) == "torch"
    assert chosen_engine(covered, key_for("torch")) == "torch"


@pytest.mark.parametrize("device", ["cpu", "cuda:0"])
def test_asking_numpy_for_what_it_cannot_run_names_the_layer_or_the_device(device):
    network = net_from_text(LOCAL_CFG) if device == "cpu" else load_network(
        str(demo_files().cfg))
    with pytest.raises(UsageError) as caught:
        chosen_engine(network, key_for("numpy", device))
    message = str(caught.value)
    assert "\n" not in message and "--engine torch" in message
    assert ("layer 0 ([local], cfg line 6)" in message if device == "cpu"
            else "CPU only" in message)


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown engine 'onnx'"):
        chosen_engine(load_network(str(demo_files().cfg)), key_for("onnx"))


def test_the_cli_refuses_numpy_for_a_model_it_cannot_run(tmp_path, capsys):
    cfg = tmp_path / "local.cfg"
    cfg.write_text(LOCAL_CFG + "\n[yolo]\nmask=0\nanchors=4,4\nclasses=1\nnum=1\n")
    network = load_network(str(cfg))
    weights = tmp_path / "local.weights"
    write_random_weights(network, weights)
    code = main(["detect", str(cfg), str(weights), str(demo_files().image),
                 "--engine", "numpy"])
    err = capsys.readouterr().err
    assert code == 2 and "numpy engine cannot run this model" in err and "[local]" in err


@pytest.mark.parametrize("letterbox", [False, True])
def test_both_engines_find_the_same_boxes_on_the_real_model(yolo_fastest, letterbox):
    """The trained Yolo-Fastest on the zoo's photo: the numpy engine and torch give the
    same detections (same classes, confidences to 1e-4, boxes to 0.05 px)."""
    cfg, weights = map(str, yolo_fastest)
    image = zoo_path("data", "dog.jpg")
    network = load_network(cfg)
    found = {}
    for engine in ("numpy", "torch"):
        key = DetectorKey(cfg, weights, None, "cpu", letterbox, engine=engine)
        outcome = run_job(detect(DetectRequest(network, key, str(image), 0.1, 0.45)))
        assert outcome.inference.engine == engine
        found[engine] = outcome.detections
    assert len(found["numpy"]) == len(found["torch"]) >= 3
    for a, b in zip(found["numpy"], found["torch"]):
        assert a.class_id == b.class_id
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
        assert a.box == pytest.approx(b.box, abs=0.05)
