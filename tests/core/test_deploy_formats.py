"""ONNX and torch.export (.pt2) exports: reloaded by their own runtimes, they agree with
the in-memory model; names, opset, dynamic batch; what happens without onnxruntime."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from darknet_inspector.core.cli import main
from darknet_inspector.core.deploy_formats import (
    DEFAULT_OPSET,
    check_onnx,
    example_input,
    export_model,
    export_onnx,
    head_names,
)
from darknet_inspector.core.model import load_model
from darknet_inspector.core.weights import random_weights, write_weights
from tests.conftest import zoo_path
from tests.helpers import net_from_text

TOLERANCE = 1e-4
TINY = """[net]
width=32
height=32
channels=3
[convolutional]
filters=8
size=3
stride=2
pad=1
batch_normalize=1
activation=mish
[maxpool]
size=2
stride=1
[convolutional]
filters=18
size=1
activation=linear
[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=1
num=3
scale_x_y=1.05
"""


@pytest.fixture(scope="module")
def yolov4_tiny(tmp_path_factory):
    cfg = zoo_path("cfg", "yolov4-tiny.cfg")
    folder = tmp_path_factory.mktemp("yolov4-tiny")
    model, _ = load_model(cfg, None, 128, 128)
    weights = folder / "random.weights"
    write_weights(weights, model.network, random_weights(model.network, seed=7))
    model, _ = load_model(cfg, weights, 128, 128)
    return model, folder


@pytest.fixture(scope="module")
def fastest(tmp_path_factory):
    cfg = zoo_path("yolo-fastest-1.1", "yolo-fastest-1.1.cfg")
    model, _ = load_model(cfg, cfg.with_suffix(".weights"))
    return model, tmp_path_factory.mktemp("fastest")


@pytest.fixture
def tiny(tmp_path):
    network = net_from_text(TINY)
    (tmp_path / "tiny.cfg").write_text(TINY)
    write_weights(tmp_path / "tiny.weights", network, random_weights(network, seed=1))
    model, _ = load_model(tmp_path / "tiny.cfg", tmp_path / "tiny.weights")
    return model, tmp_path


def onnx_session(path):
    onnxruntime = pytest.importorskip("onnxruntime")
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_of_yolov4_tiny_matches_the_model_and_names_its_heads(yolov4_tiny):
    pytest.importorskip("onnxruntime")
    model, folder = yolov4_tiny
    check = export_model(model, folder / "m.onnx", "onnx", dynamic_batch=True)
    assert check.ran and check.max_abs_diff <= TOLERANCE, check.summary()
    assert check.batch == 2
    session = onnx_session(folder / "m.onnx")
    assert [o.name for o in session.get_outputs()] == ["yolo_30", "yolo_37"]
    assert [i.name for i in session.get_inputs()] == ["input"]
    x = example_input(model, batch=3, seed=9)
    theirs = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        ours = model(x)
    for a, b in zip(ours, theirs):
        assert b.shape[0] == 3
        assert np.abs(a.numpy() - b).max() <= TOLERANCE


def test_pt2_of_yolov4_tiny_matches_the_model(yolov4_tiny):
    model, folder = yolov4_tiny
    check = export_model(model, folder / "m.pt2", "pt2")
    assert check.ran and check.max_abs_diff <= TOLERANCE, check.summary()
    program = torch.export.load(folder / "m.pt2")
    x = example_input(model, seed=4)
    with torch.no_grad():
        for a, b in zip(model(x), program.module()(x)):
            assert torch.allclose(a, b, atol=TOLERANCE, rtol=0)


def test_onnx_of_yolo_fastest_matches_the_model(fastest):
    pytest.importorskip("onnxruntime")
    model, folder = fastest
    check = export_model(model, folder / "m.onnx", "onnx")
    assert check.ran and check.max_abs_diff <= TOLERANCE, check.summary()
    assert check.outputs == ["yolo_121", "yolo_130"]


def test_pt2_with_dynamic_batch_of_yolo_fastest_matches_the_model(fastest):
    model, folder = fastest
    check = export_model(model, folder / "m.pt2", "pt2", dynamic_batch=True)
    assert check.ran and check.max_abs_diff <= TOLERANCE and check.batch == 2
    program = torch.export.load(folder / "m.pt2")
    x = example_input(model, batch=1, seed=2)
    with torch.no_grad():
        for a, b in zip(model(x), program.module()(x)):
            assert torch.allclose(a, b, atol=TOLERANCE, rtol=0)


def test_onnx_opset_is_the_one_asked_for(tiny):
    onnx = pytest.importorskip("onnx")
    model, folder = tiny
    export_onnx(model, folder / "m.onnx", opset=13)
    opsets = {o.domain: o.version for o in onnx.load(str(folder / "m.onnx")).opset_import}
    assert opsets[""] == 13
    export_onnx(model, folder / "d.onnx")
    opsets = {o.domain: o.version for o in onnx.load(str(folder / "d.onnx")).opset_import}
    assert opsets[""] == DEFAULT_OPSET


def test_fixed_batch_onnx_refuses_another_batch(tiny):
    model, folder = tiny
    export_onnx(model, folder / "m.onnx")
    session = onnx_session(folder / "m.onnx")
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"input": example_input(model, batch=2).numpy()})


def test_without_onnxruntime_the_check_says_it_did_not_run(tiny, monkeypatch):
    model, folder = tiny
    export_onnx(model, folder / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    check = check_onnx(model, folder / "m.onnx")
    assert not check.ran
    assert "onnxruntime is not installed" in check.notes[0]
    assert "pip install onnx onnxruntime" in check.notes[0]
    assert "not run" in check.summary()


def test_torchscript_round_trips_and_notes_its_deprecation(tiny):
    model, folder = tiny
    check = export_model(model, folder / "m.ts", "torchscript")
    assert check.ran and check.agrees(1e-5)
    assert "pt2" in " ".join(check.notes)
    loaded = torch.jit.load(str(folder / "m.ts"))
    x = torch.rand(1, *model.network.input_shape)
    with torch.no_grad():
        assert torch.allclose(loaded(x)[0], model(x)[0], atol=1e-5)


def test_head_names_are_type_and_index(tiny):
    model, _ = tiny
    assert head_names(model) == ["yolo_3"]


def test_cli_convert_onnx_reports_its_check(tiny, capsys):
    pytest.importorskip("onnxruntime")
    _, folder = tiny
    code = main(["convert", str(folder / "tiny.cfg"), str(folder / "tiny.weights"), "-o",
                 str(folder / "m.onnx"), "--format", "onnx", "--opset", "18"])
    out = capsys.readouterr().out
    assert code == 0
    assert "outputs yolo_3" in out and "max difference" in out and "onnxruntime" in out


@pytest.mark.parametrize("extra,message", [
    (["--format", "onnx", "--opset", "5"], "opset between"),
    (["--format", "pt2", "--opset", "17"], "--opset applies to --format onnx only"),
])
def test_cli_convert_unusable_options_exit_2(tiny, capsys, extra, message):
    _, folder = tiny
    code = main(["convert", str(folder / "tiny.cfg"), str(folder / "tiny.weights"), "-o",
                 str(folder / "m.out"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (folder / "m.out").exists()


# ---------------------------------------------------------------- our .pt's check

def test_pt_check_compares_every_tensor_and_runs_the_smallest_input(tiny):
    model, folder = tiny
    check = export_model(model, folder / "tiny.pt", "pt")
    assert check.tensors_equal == len(model.darknet_tensors()) and check.max_abs_diff == 0
    assert check.input_size == (2, 2) and "identical, batch 1 at 2x2" in check.summary()


def test_pt_check_names_a_tensor_the_file_holds_differently(tiny, monkeypatch):
    """A writer that changed one value: the bit-for-bit comparison names the tensor."""
    from darknet_inspector.core import pt_file

    model, folder = tiny
    original = pt_file.model_payload

    def tampered(m):
        payload = original(m)
        payload["tensors"]["2.biases"] = payload["tensors"]["2.biases"].clone()
        payload["tensors"]["2.biases"][0] += 1e-6
        return payload

    monkeypatch.setattr(pt_file, "model_payload", tampered)
    check = export_model(model, folder / "bad.pt", "pt")
    assert check.max_abs_diff == float("inf") and "first 2.biases" in check.notes[0]
