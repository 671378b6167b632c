"""The bundled demo detector (resources/demo/), its training script and its broken twin."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from darknet_inspector.core.cfg import read_cfg
from darknet_inspector.core.demo import (
    BROKEN_CLASSES,
    demo_available,
    demo_files,
    make_broken_demo,
    read_ground_truth,
)
from darknet_inspector.core.detect import Detector, read_names
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.layers.route import RouteParams
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.report import make_report
from darknet_inspector.core.weights import read_weights

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_demo.py"
CONFIDENT = 0.25  # the preview's default threshold: nothing wrong may show at it


@pytest.fixture(scope="module")
def train_demo():
    """scripts/train_demo.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("train_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_demo"] = module
    spec.loader.exec_module(module)
    return module


def iou(a, b) -> float:
    """IoU of two x1, y1, x2, y2 boxes, computed here, independently of the engine."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def block_means(image: np.ndarray, block: int = 10) -> np.ndarray:
    """Mean of each block x block tile: JPEG keeps these, not the pixel noise."""
    h, w, c = image.shape
    tiles = image[: h // block * block, : w // block * block].astype(np.float32)
    return tiles.reshape(h // block, block, w // block, block, c).mean(axis=(1, 3))


def sample_truth():
    files = demo_files()
    width, height = Image.open(files.image).size
    return read_ground_truth(files.truth, width, height, read_names(files.names))


def detect_sample(cfg, weights, conf=CONFIDENT):
    files = demo_files()
    model, _ = load_model(cfg, weights)
    detector = Detector(model, read_names(files.names), "cpu")
    return detector.detections(detector.infer(files.image), conf, 0.45)


# ------------------------------------------------------------------ the committed demo

def test_demo_files_are_bundled_and_small():
    files = demo_files()
    assert demo_available()
    total = sum(p.stat().st_size for p in files.cfg.parent.iterdir() if p.is_file())
    assert total < 1_500_000, f"resources/demo/ holds {total:,} bytes"
    assert read_names(files.names) == ["circle", "square", "triangle", "star"]


def test_demo_cfg_shows_the_interesting_layer_types():
    network = load_network(demo_files().cfg)
    types = [layer.type for layer in network.layers]
    assert {"convolutional", "route", "shortcut", "upsample", "maxpool"} <= set(types)
    assert types.count("yolo") == 2
    assert any(layer.params_as(RouteParams).groups > 1 for layer in network.layers
               if layer.type == "route")
    assert network.input_shape == (3, 160, 160)
    assert network.diagnostics == []


def test_demo_weights_are_consumed_to_the_byte():
    files = demo_files()
    network = load_network(files.cfg)
    records, ledger = read_weights(network, files.weights)
    size = files.weights.stat().st_size
    expected = ledger.header.size + sum(4 * spec.count for layer in network.layers
                                        for spec in layer.weights)
    assert ledger.status == "ok"
    assert ledger.file_bytes == size == expected == ledger.expected_bytes
    assert ledger.diagnostics == []
    assert {r.status for r in records} <= {"ok", "none"}
    bn = [layer for layer in network.layers
          if isinstance(layer.params, ConvolutionalParams) and layer.params.batch_normalize]
    variances = [t.values for r in records if r.index in {b.index for b in bn}
                 for t in r.tensors if t.name == "rolling_variance"]
    assert variances and all((v > 0).all() for v in variances)


def test_demo_finds_every_sample_shape_with_its_class():
    files = demo_files()
    truth = sample_truth()
    found = detect_sample(files.cfg, files.weights)
    assert len(truth) >= 4 and {t.class_id for t in truth} == {0, 1, 2, 3}
    for t in truth:
        hits = [d for d in found if d.class_id == t.class_id and iou(d.box, t.box) >= 0.5]
        assert hits, f"no {t.name} found at {t.box}; detections: {found}"
    for d in found:
        assert any(d.class_id == t.class_id and iou(d.box, t.box) >= 0.5 for t in truth), \
            f"confident false positive {d}"
    assert len(found) == len(truth)


def test_sample_ground_truth_is_what_the_generator_drew(train_demo):
    files = demo_files()
    scene = train_demo.sample_scene()
    assert files.truth.read_text() == train_demo.darknet_labels(scene)
    pixels = np.asarray(Image.open(files.image).convert("RGB"), dtype=np.float32)
    assert pixels.shape == scene.image.shape
    assert np.abs(block_means(pixels) - block_means(scene.image)).max() < 3.0


# ------------------------------------------------------------------ the training script

def test_scene_generator_is_deterministic_per_seed(train_demo):
    first = train_demo.training_batch(np.random.default_rng(7), 3, 160)
    again = train_demo.training_batch(np.random.default_rng(7), 3, 160)
    other = train_demo.training_batch(np.random.default_rng(8), 3, 160)
    assert (first[0] == again[0]).all()
    assert all((a == b).all() for a, b in zip(first[1], again[1]))
    assert not (first[0] == other[0]).all()


def test_scene_boxes_hold_their_shapes(train_demo):
    scene = train_demo.draw_scene(np.random.default_rng(3), 200, 150, [0, 1, 2, 3])
    assert scene.classes.tolist() == [0, 1, 2, 3]
    for x1, y1, x2, y2 in scene.boxes:
        assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 150


def test_training_steps_repeat_exactly_with_the_same_seed(train_demo):
    cfg = demo_files().cfg
    runs = []
    for _ in range(2):
        model, network = train_demo.train(cfg, seed=5, steps=2, batch=2, lr=0.005,
                                          log_every=10**6)
        runs.append(train_demo.trained_tensors(model, network))
    assert runs[0].keys() == runs[1].keys()
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_trained_tensors_load_into_the_engine_unchanged(train_demo, tmp_path):
    """BN statistics and conv weights land where the engine reads them: the engine's
    eval output equals the training model's eval output."""
    import torch

    cfg = demo_files().cfg
    trained, network = train_demo.train(cfg, seed=1, steps=2, batch=2, lr=0.005,
                                        log_every=10**6)
    path = tmp_path / "t.weights"
    train_demo.write_weights(path, network, train_demo.trained_tensors(trained, network))
    model, ledger = load_model(cfg, path)
    assert ledger.status == "ok"
    heads = train_demo.head_infos(network)
    x = torch.rand(1, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(x)
        theirs = [train_demo.yolo_activation(o, h) for o, h in zip(trained(x), heads)]
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.skipif(not os.environ.get("DEMO_RETRAIN"),
                    reason="retrains the demo for minutes; set DEMO_RETRAIN=1 to run")
def test_retraining_with_the_same_seed_detects_the_same(train_demo, tmp_path):
    assert train_demo.main(["--seed", "0", "--out", str(tmp_path), "--eval", "0"]) == 0
    files = demo_files()
    ours = detect_sample(files.cfg, tmp_path / "demo.weights")
    committed = detect_sample(files.cfg, files.weights)
    assert len(ours) == len(committed)
    for d in committed:
        assert any(o.class_id == d.class_id and iou(o.box, d.box) >= 0.8 for o in ours)


# ------------------------------------------------------------------ the broken twin

def _line_of(lines: list[str], text: str, start: int = 0) -> int:
    """1-based number of the first line at or after `start` (0-based) equal to `text`."""
    return next(i for i in range(start, len(lines)) if lines[i].strip() == text) + 1


def test_broken_demo_reports_exactly_the_two_planted_problems(tmp_path):
    files = demo_files()
    good = load_network(files.cfg)
    before = hashlib.sha256(files.weights.read_bytes()).hexdigest()
    cfg_path, weights_path = make_broken_demo(tmp_path)
    assert hashlib.sha256(files.weights.read_bytes()).hexdigest() == before

    network = load_network(cfg_path)
    records, ledger = read_weights(network, weights_path)
    problems = make_report(network, records, ledger).problems
    assert len(problems) == 2, "\n".join(map(str, problems))
    assert all(p.severity == "error" for p in problems)

    # the planted cfg mistake: first [yolo] (layer 30) says classes=5, filters still 27
    lines = cfg_path.read_text().splitlines()
    yolo_line = _line_of(lines, "[yolo]")
    head_conv_filters = max(i for i in range(yolo_line) if lines[i - 1] == "filters=27")
    head = next(p for p in problems if p.layer == 30)
    assert head.line == yolo_line
    assert f"set filters={(BROKEN_CLASSES + 5) * 3} on line {head_conv_filters}" in head.message
    assert "layer 29" in head.message and "gets 27" in head.message

    # the planted truncation: halfway through layer 18's weights tensor
    cut = next(p for p in problems if p is not head)
    layer18 = good.layers[18]
    assert layer18.type == "convolutional"
    assert cut.layer == 18 and cut.line == network.layers[18].line
    assert "inside layer 18" in cut.message and "weights tensor" in cut.message
    before_18 = sum(layer.weight_bytes for layer in good.layers[:18])
    weights_spec = layer18.weights[-1]
    offset = ledger.header.size + before_18 + layer18.weight_bytes - weights_spec.nbytes
    assert weights_path.stat().st_size == offset + 4 * (weights_spec.count // 2)
    assert records[15].status == "ok" and records[18].status == "partial"
    assert {r.status for r in records[19:] if network.layers[r.index].weights} == {"missing"}


def test_broken_cfg_differs_from_the_demo_only_in_one_classes_line(tmp_path):
    cfg_path, _ = make_broken_demo(tmp_path)
    good = demo_files().cfg.read_text().splitlines()
    broken = cfg_path.read_text().splitlines()
    note = [i for i, line in enumerate(broken) if line.startswith("# Broken on purpose")]
    assert note == [0]
    body = [line for line in broken if not line.startswith("#")]
    changed = [(a, b) for a, b in zip([line for line in good if not line.startswith("#")],
                                      body) if a != b]
    assert changed == [("classes=4", f"classes={BROKEN_CLASSES}")]
    assert len(read_cfg(cfg_path).sections) == len(read_cfg(demo_files().cfg).sections)
