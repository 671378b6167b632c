"""Layer-by-layer verification against OpenCV DNN's Darknet importer (and CPU vs CUDA)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from darknet_inspector.core.cli import main
from darknet_inspector.core.model import load_model
from darknet_inspector.core.pt_file import save_pt
from darknet_inspector.core.verify import (
    AFTER_REFERENCE_DIFFERS,
    NOT_COMPARED,
    OK,
    REFERENCE_DIFFERS,
    compare_cpu_cuda,
    compare_with_opencv,
    verify_input,
    verify_model,
)
from darknet_inspector.core.weights import WeightsHeader, random_weights, write_weights
from tests.conftest import zoo_path
from tests.helpers import net_from_text, write_random_weights

pytest.importorskip("cv2")

NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = ("[convolutional]\nfilters={n}\nsize=3\nstride=1\npad=1\nbatch_normalize=1\n"
        "activation=leaky\n")
PLAIN = NET + CONV.format(n=8) + CONV.format(n=8) + "[maxpool]\nsize=2\nstride=2\n" + \
    CONV.format(n=8) + "[shortcut]\nfrom=-2\nactivation=linear\n"


def tiny_model(tmp_path, text: str, seed: int = 0):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(text)
    weights = tmp_path / "tiny.weights"
    write_random_weights(net_from_text(text), weights, seed)
    model, _ = load_model(cfg, weights)
    return model, weights


def opencv_rows(model, weights):
    x, _ = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    assert comparison.available, comparison.note
    return comparison


def test_yolo_fastest_has_no_divergent_layer_against_opencv(yolo_fastest):
    cfg, weights = yolo_fastest
    model, _ = load_model(cfg, weights)
    x, described = verify_input(model.network, zoo_path("data", "dog.jpg"))
    report = verify_model(model, weights, x, described, cuda=False)
    comparison = report.comparisons[0]
    assert comparison.available, comparison.note
    assert not report.diverges
    assert {row.status for row in comparison.layers} == {OK}
    assert max(row.max_rel for row in comparison.layers) < 1e-4
    heads = [row for row in comparison.layers if row.type == "yolo"]
    assert [row.index for row in heads] == [121, 130]


def test_corrupted_tensor_is_flagged_at_its_layer(yolo_fastest):
    """A converted model whose layer 40 weights went wrong: every layer before 40 agrees
    with OpenCV reading the original file, and 40 is the first divergent one."""
    cfg, weights = yolo_fastest
    model, _ = load_model(cfg, weights)
    with torch.no_grad():
        model.layers[40].weights[0, 0, 0, 0] += 0.5
    x, _ = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    first = comparison.first_divergent
    assert first is not None and first.index == 40
    assert all(row.status == OK for row in comparison.layers[:40])


def test_bn_epsilon_is_compensated_for_opencv(tmp_path):
    """OpenCV's BatchNorm uses eps 1e-6, Darknet 1e-5: with variances near 1e-5 the raw
    file gives OpenCV a different answer; verify still reports Darknet's result as equal
    (our output equals the numpy BN formula with Darknet's epsilon)."""
    text = NET + CONV.format(n=4).replace("leaky", "linear")
    network = net_from_text(text)
    tensors = random_weights(network)
    tensors[(0, "rolling_variance")] = np.full(4, 2e-6, np.float32)
    cfg, weights = tmp_path / "bn.cfg", tmp_path / "bn.weights"
    cfg.write_text(text)
    write_weights(weights, network, tensors)
    model, _ = load_model(cfg, weights)
    x, _ = verify_input(model.network)
    conv = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(
        tensors[(0, "weights")]), padding=1).numpy()[0].astype(np.float64)
    mean = tensors[(0, "rolling_mean")].reshape(-1, 1, 1)
    scale = tensors[(0, "scales")].reshape(-1, 1, 1)
    bias = tensors[(0, "biases")].reshape(-1, 1, 1)
    darknet = (conv - mean) / np.sqrt(2e-6 + 1e-5) * scale + bias
    with torch.no_grad():
        ours = model(torch.from_numpy(x))[0][0].numpy()
    assert np.abs(ours - darknet).max() <= 1e-4 * np.abs(darknet).max()
    assert opencv_rows(model, weights).layers[0].max_rel < 1e-5
    from darknet_inspector.core import opencv_dnn

    raw = opencv_dnn.read_opencv_net(opencv_dnn.opencv_cfg_text(text), weights)
    uncompensated = opencv_dnn.opencv_outputs(raw, x)[0][0]
    assert np.abs(uncompensated - darknet).max() > 0.1 * np.abs(darknet).max()


def test_plain_model_agrees_and_every_layer_is_compared(tmp_path):
    model, weights = tiny_model(tmp_path, PLAIN)
    comparison = opencv_rows(model, weights)
    assert [row.status for row in comparison.layers] == [OK] * 5
    assert comparison.first_divergent is None


def test_dilation_is_marked_reference_differs_and_later_layers_too(tmp_path):
    text = NET + CONV.format(n=8) + CONV.format(n=8).replace("pad=1", "pad=1\ndilation=2") + \
        CONV.format(n=4) + "[maxpool]\nsize=2\nstride=2\n"
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [OK, REFERENCE_DIFFERS, AFTER_REFERENCE_DIFFERS,
                                            AFTER_REFERENCE_DIFFERS]
    assert "dilation" in rows[1].note and "reference differs from Darknet" in rows[1].note
    assert rows[1].max_rel > 1e-2  # OpenCV really computes something else there


def test_stride_xy_is_marked_reference_differs(tmp_path):
    text = NET + CONV.format(n=8).replace("stride=1", "stride=1\nstride_x=2") + \
        CONV.format(n=4)
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [REFERENCE_DIFFERS, AFTER_REFERENCE_DIFFERS]
    assert "stride_x/stride_y" in rows[0].note


def test_weighted_shortcut_is_marked_reference_differs(tmp_path):
    text = NET + CONV.format(n=8) + CONV.format(n=8) + \
        "[shortcut]\nfrom=-2\nweights_type=per_feature\nactivation=linear\n" + CONV.format(n=4)
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [OK, OK, REFERENCE_DIFFERS,
                                            AFTER_REFERENCE_DIFFERS]
    assert "weighted or multi-input [shortcut]" in rows[2].note


def test_layer_opencv_lacks_is_named_and_the_layers_before_it_are_compared(tmp_path):
    text = NET + CONV.format(n=8) + CONV.format(n=8) + "[local_avgpool]\nsize=2\nstride=2\n" + \
        CONV.format(n=4)
    model, weights = tiny_model(tmp_path, text)
    comparison = opencv_rows(model, weights)
    assert [row.status for row in comparison.layers] == [OK, OK, REFERENCE_DIFFERS,
                                                         NOT_COMPARED]
    assert "OpenCV has no [local_avgpool] layer" in comparison.layers[2].note
    assert "OpenCV cannot load layer 2" in comparison.note
    assert comparison.layers[3].max_rel is None


def test_layer_opencv_lacks_first_makes_the_reference_unavailable(tmp_path):
    text = NET + "[local_avgpool]\nsize=2\nstride=2\n" + CONV.format(n=4)
    model, weights = tiny_model(tmp_path, text)
    x, _ = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    assert not comparison.available
    assert "OpenCV has no [local_avgpool] layer (layer 0)" in comparison.note


def test_flipped_conv_stops_opencv_there_with_the_reason(tmp_path):
    text = NET + CONV.format(n=8) + CONV.format(n=4).replace("pad=1", "pad=1\nflipped=1")
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [OK, REFERENCE_DIFFERS]
    assert "flipped=1" in rows[1].note


def test_corrupted_layer_before_an_unloadable_one_is_still_found(tmp_path):
    text = NET + CONV.format(n=8) + CONV.format(n=8) + "[local_avgpool]\nsize=2\nstride=2\n"
    model, weights = tiny_model(tmp_path, text)
    with torch.no_grad():
        model.layers[1].scales[0] += 1.0
    first = opencv_rows(model, weights).first_divergent
    assert first is not None and first.index == 1


def test_missing_opencv_says_how_to_install_it(tmp_path, monkeypatch):
    model, weights = tiny_model(tmp_path, PLAIN)
    monkeypatch.setitem(sys.modules, "cv2", None)
    x, _ = verify_input(model.network)
    comparison = compare_with_opencv(model, weights, x)
    assert not comparison.available
    assert "pip install 'opencv-python-headless<5'" in comparison.note


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cpu_vs_cuda_says_why_it_was_not_run(tmp_path):
    model, _ = tiny_model(tmp_path, PLAIN)
    x, _ = verify_input(model.network)
    comparison = compare_cpu_cuda(model, x)
    assert not comparison.available and "CUDA" in comparison.note


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree_on_yolo_fastest(yolo_fastest):
    model, _ = load_model(*yolo_fastest)
    x, _ = verify_input(model.network)
    comparison = compare_cpu_cuda(model, x)
    assert comparison.available and comparison.first_divergent is None


def test_image_input_is_darknet_stretched(yolo_fastest):
    model, _ = load_model(*yolo_fastest)
    x, described = verify_input(model.network, zoo_path("data", "dog.jpg"))
    darknet = np.fromfile(zoo_path("darknet-reference", "yolo-fastest-1.1", "dog", "input.f32"),
                          np.float32).reshape(x.shape)
    assert np.abs(x - darknet).max() <= 4 / 255  # JPEG decoders differ by a few levels
    assert "stretched" in described


def test_cli_verify_json_reports_every_layer(tmp_path, capsys):
    model, weights = tiny_model(tmp_path, PLAIN)
    code = main(["verify", str(tmp_path / "tiny.cfg"), str(weights), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    opencv = payload["comparisons"][0]
    assert opencv["name"] == "opencv" and opencv["first_divergent"] is None
    assert [row["index"] for row in opencv["layers"]] == [0, 1, 2, 3, 4]
    assert payload["diverges"] is False


def test_cli_verify_of_a_corrupted_converted_model_exits_1_naming_the_layer(tmp_path, capsys):
    model, weights = tiny_model(tmp_path, PLAIN)
    with torch.no_grad():
        model.layers[3].biases += 1.0
    save_pt(model, tmp_path / "bad.pt")
    code = main(["verify", str(tmp_path / "tiny.cfg"), str(weights), "--model",
                 str(tmp_path / "bad.pt")])
    out = capsys.readouterr().out
    assert code == 1
    assert "first divergent layer: 3 ([convolutional], cfg line" in out


def test_cli_verify_without_any_reference_exits_2(tmp_path, capsys, monkeypatch):
    _, weights = tiny_model(tmp_path, PLAIN)
    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr("darknet_inspector.core.torch_engine.cuda_unavailable_reason",
                        lambda: "no GPU in this test")
    code = main(["verify", str(tmp_path / "tiny.cfg"), str(weights)])
    assert code == 2
    assert "nothing to compare against" in capsys.readouterr().err


def test_seen_header_does_not_matter_to_verify(tmp_path):
    network = net_from_text(PLAIN)
    weights = tmp_path / "tiny.weights"
    write_random_weights(network, weights, header=WeightsHeader(0, 1, 0, 12345))
    (tmp_path / "tiny.cfg").write_text(PLAIN)
    model, _ = load_model(tmp_path / "tiny.cfg", weights)
    assert opencv_rows(model, weights).first_divergent is None


def test_silu_runs_in_opencv_and_is_marked_reference_differs_not_cannot_load(tmp_path):
    """OpenCV 4.14 computes silu; Darknet does not know it and runs relu."""
    text = NET + CONV.format(n=8).replace("leaky", "silu") + CONV.format(n=4)
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [REFERENCE_DIFFERS, AFTER_REFERENCE_DIFFERS]
    assert "going with ReLU" in rows[0].note


def test_upsample_without_stride_is_compared_with_darknets_default(tmp_path):
    """OpenCV reads a missing stride= as 1, Darknet as 2: OpenCV is told stride=2."""
    text = NET + CONV.format(n=8) + "[upsample]\n" + CONV.format(n=4) + \
        "[route]\nlayers=-1,-2\n"
    model, weights = tiny_model(tmp_path, text)
    comparison = opencv_rows(model, weights)
    assert [row.status for row in comparison.layers] == [OK] * 4, comparison.layers
    assert model.network.layers[1].output_shape == (8, 64, 64)


def test_a_layer_not_compared_is_never_a_pass(tmp_path, capsys):
    from darknet_inspector.core.verify import compare_layers, verify_text

    network = net_from_text(PLAIN)
    ours = [np.ones((8, 32, 32), np.float32)] * 2 + [np.ones((8, 16, 16), np.float32)] * 3
    theirs = {0: ours[0], 1: ours[1][:4]}
    rows = compare_layers(network, ours, theirs, 1e-3)
    assert [row.status for row in rows] == [OK] + [NOT_COMPARED] * 4
    from darknet_inspector.core.verify import Comparison, VerifyReport

    report = VerifyReport("c", "w", "x", [Comparison("r", "r", "cpu", 1e-3, layers=rows)])
    assert not report.diverges and not report.complete
    text = verify_text(report)
    assert "no layer diverges" not in text and "4 of 5 layers were not compared" in text
    assert "the reference's output has 4096 values, ours 8192" in text


def test_reference_garbage_is_a_reference_failure_not_a_divergence(tmp_path):
    from darknet_inspector.core.verify import REFERENCE_FAILED, compare_layers

    network = net_from_text(NET + CONV.format(n=8))
    ours = [np.ones((8, 32, 32), np.float32)]
    garbage = ours[0].copy()
    garbage[0, 0, 0] = 2e21
    (row,) = compare_layers(network, ours, {0: garbage}, 1e-3)
    assert row.status == REFERENCE_FAILED and "reference failure" in row.note
    garbage[0, 0, 0] = np.inf
    (row,) = compare_layers(network, ours, {0: garbage}, 1e-3)
    assert row.status == REFERENCE_FAILED and "not finite" in row.note


def test_opencv_depthwise_3x3_on_a_1x1_map_is_marked_reference_differs(tmp_path):
    text = NET.replace("32", "4") + CONV.format(n=8) + "[avgpool]\n" + \
        "[convolutional]\nfilters=8\ngroups=8\nsize=3\npad=1\nactivation=linear\n"
    model, weights = tiny_model(tmp_path, text)
    rows = opencv_rows(model, weights).layers
    assert [row.status for row in rows] == [OK, OK, REFERENCE_DIFFERS]
    assert "depthwise 3x3 convolution on a 1x1 map" in rows[2].note
