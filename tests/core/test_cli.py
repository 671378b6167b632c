"""The command-line contract (DESIGN.md): inspect table and JSON, size overrides, exit codes
0/1/2, dump, atomic outputs, and `python main.py` behaving as the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from darknet_inspector.core.cli import main
from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.model import load_model
from darknet_inspector.core.weights import WeightsHeader
from tests.conftest import ROOT
from tests.helpers import net_from_text, tree_model_files, write_random_weights

CFG = """[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=8
size=1
stride=1
activation=mish

[shortcut]
from=-2
activation=linear

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=18
size=1
stride=1
activation=linear

[yolo]
mask=3,4,5
anchors=4,5, 8,9, 12,10, 16,20, 24,22, 30,40
classes=1
num=6

[route]
layers=-3

[upsample]
stride=2

[route]
layers=-1,3

[convolutional]
filters=18
size=1
stride=1
activation=linear

[yolo]
mask=0,1,2
anchors=4,5, 8,9, 12,10, 16,20, 24,22, 30,40
classes=1
num=6
"""
SHAPES = [(8, 64, 64), (8, 32, 32), (8, 32, 32), (8, 32, 32), (16, 16, 16), (18, 16, 16),
          (18, 16, 16), (16, 16, 16), (16, 32, 32), (24, 32, 32), (18, 32, 32), (18, 32, 32)]
def line_of(text: str, prefix: str, occurrence: int = 1) -> int:
    """1-based line of the occurrence-th line of `text` starting with `prefix`."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(prefix)]
    return found[occurrence - 1]


LAYER_KEYS = {"index", "type", "line", "input_shape", "output_shape", "params", "param_count",
              "bflops", "status"}
WEIGHTS_KEYS = {"path", "major", "minor", "revision", "seen", "header_bytes",
                "expected_bytes", "file_bytes", "status"}


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / "small.cfg"
    cfg.write_text(CFG)
    weights = tmp_path / "small.weights"
    tensors = write_random_weights(net_from_text(CFG), weights, seed=1,
                                   header=WeightsHeader(0, 2, 5, 4242))
    return cfg, weights, tensors


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str):
    assert err.startswith("darknet-inspector: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_inspect_json_has_exactly_the_contract_keys_and_types(files, capsys):
    cfg, weights, tensors = files
    code, out, err = run(capsys, "inspect", cfg, weights, "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert set(report) == {"cfg", "input", "bflops", "layers", "weights", "diagnosis",
                           "transfer", "problems"}
    assert report["cfg"] == str(cfg) and report["input"] == [3, 64, 64]
    assert report["bflops"] == pytest.approx(sum(layer["bflops"] for layer in report["layers"]),
                                             rel=1e-6) and report["bflops"] > 0
    assert report["problems"] == []
    assert [layer["output_shape"] for layer in report["layers"]] == [list(s) for s in SHAPES]
    for index, layer in enumerate(report["layers"]):
        assert set(layer) == LAYER_KEYS
        assert layer["index"] == index and isinstance(layer["type"], str)
        assert isinstance(layer["line"], int) and isinstance(layer["param_count"], int)
        assert isinstance(layer["bflops"], float)
        assert layer["input_shape"] == ([3, 64, 64] if index == 0 else
                                        report["layers"][index - 1]["output_shape"])
        assert layer["param_count"] == sum(int(np.prod(p["shape"])) for p in layer["params"])
        assert layer["status"] == ("ok" if layer["params"] else "none")
        for param in layer["params"]:
            assert set(param) == {"name", "shape", "offset", "flags"}
            assert isinstance(param["offset"], int)
            assert param["flags"] == []  # random weights raise no health flag
    assert report["weights"] == {
        "path": str(weights), "major": 0, "minor": 2, "revision": 5, "seen": 4242,
        "header_bytes": 20, "expected_bytes": os.path.getsize(weights),
        "file_bytes": os.path.getsize(weights), "status": "ok"}
    assert set(report["weights"]) == WEIGHTS_KEYS


def test_inspect_json_offsets_are_byte_offsets_into_the_file(files, capsys):
    cfg, weights, tensors = files
    _, out, _ = run(capsys, "inspect", cfg, weights, "--json")
    data = weights.read_bytes()
    params = [(layer["index"], p) for layer in json.loads(out)["layers"] for p in layer["params"]]
    assert params[0][1]["offset"] == 20
    for index, param in params:
        count = int(np.prod(param["shape"]))
        stored = np.frombuffer(data, "<f4", count, param["offset"]).reshape(param["shape"])
        np.testing.assert_array_equal(stored, tensors[(index, param["name"])])


def test_inspect_json_of_a_truncated_file_exits_1_and_still_prints_everything(files, capsys):
    cfg, weights, _ = files
    data = weights.read_bytes()
    weights.write_bytes(data[: 20 + 4 * (8 + 8 + 8 + 8 + 8 * 27) + 4 * 5])  # 5 floats into L2
    code, out, err = run(capsys, "inspect", cfg, weights, "--json")
    assert code == 1 and err == ""
    report = json.loads(out)
    assert [layer["status"] for layer in report["layers"]] == [
        "ok", "none", "partial", "none", "missing", "missing", "none", "none", "none", "none",
        "missing", "none"]
    assert report["weights"]["status"] == "short"
    (problem,) = report["problems"]
    assert problem["severity"] == "error" and problem["layer"] == 2
    assert problem["line"] == line_of(CFG, "[convolutional]", 2)
    assert "in its biases tensor" in problem["message"]
    partial = report["layers"][2]["params"]
    assert isinstance(partial[0]["offset"], int) and partial[-1]["offset"] is None
    assert all(p["offset"] is None for p in report["layers"][4]["params"])


def test_inspect_json_without_weights(files, capsys):
    cfg, _, _ = files
    code, out, _ = run(capsys, "inspect", cfg, "--json")
    report = json.loads(out)
    assert code == 0 and report["weights"] is None
    assert {layer["status"] for layer in report["layers"]} == {"missing", "none"}
    assert all(p["offset"] is None for layer in report["layers"] for p in layer["params"])


def test_inspect_table_has_a_row_per_layer_the_ledger_and_the_problems(files, capsys):
    cfg, weights, _ = files
    code, out, _ = run(capsys, "inspect", cfg, weights)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith(f"{cfg}: 12 layers, input 3x64x64")
    rows = [line.split() for line in lines[2:14]]
    assert [row[0] for row in rows] == [str(i) for i in range(12)]
    assert [row[1] for row in rows][:4] == ["convolutional", "maxpool", "convolutional",
                                           "shortcut"]
    assert rows[0][2] == str(line_of(CFG, "[convolutional]"))
    assert rows[0][3:6] == ["3x64x64", "->", "8x64x64"]
    assert rows[0][7] == f"{2 * 8 * 3 * 9 * 64 * 64 / 1e9:.3f}"  # filters=8 3x3, 64x64
    assert rows[0][8] == "ok" and rows[1][8] == "none"
    assert lines[0].endswith(" BFLOPS")
    assert lines[14].startswith(f"weights: {weights} version 0.2.5, seen 4,242")
    assert lines[14].endswith(": ok") and lines[15] == "problems: 0 error(s), 0 warning(s)"


def test_width_and_height_override_the_net_size(files, capsys):
    cfg, _, _ = files
    _, out, _ = run(capsys, "inspect", cfg, "--json", "--width", "128", "--height", "96")
    report = json.loads(out)
    assert report["input"] == [3, 96, 128]
    assert report["layers"][0]["output_shape"] == [8, 96, 128]
    assert report["layers"][-1]["output_shape"] == [18, 48, 64]


def test_cfg_errors_exit_1_with_the_full_report(files, capsys):
    cfg, weights, _ = files
    text = CFG.replace("filters=18", "filters=20", 1)
    cfg.write_text(text)
    code, out, _ = run(capsys, "inspect", cfg, weights)
    assert code == 1
    lines = out.splitlines()
    table = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "type"])
    assert [line.split()[0] for line in lines[table + 1:table + 13]] == [
        str(i) for i in range(12)]
    assert "1. cfg_diverges (verified)" in lines[2]  # the diagnosis comes before the table
    assert f"set filters=18 on line {line_of(text, 'filters=20')}" in out
    assert "problems: 1 error(s)" in out  # the yolo's error and the short file: one cause


@pytest.mark.parametrize("cfg_text, weights_bytes, words", [
    (None, None, "no such cfg file"),
    (CFG, b"", "the weights file is empty"),
    (CFG, b"\0" * 10, "10 bytes, shorter than a Darknet weights header"),
    (CFG, b"[net]\nwidth=1\n", "cfg (text) file"),
    ("width=3\n[net]\n", b"", "bad.cfg:1: option"),
])
def test_unusable_input_exits_2_with_one_line_and_no_traceback(files, capsys, cfg_text,
                                                                weights_bytes, words):
    _, weights, _ = files
    target = weights.parent / "bad.cfg"
    if cfg_text is not None:
        target.write_text(cfg_text)
    if weights_bytes is not None:
        weights.write_bytes(weights_bytes)
    code, out, err = run(capsys, "inspect", target, weights)
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert words in err


@pytest.mark.parametrize("argv", [
    ["inspect"], ["inspect", "x.cfg", "--width", "abc"], ["inspect", "x.cfg", "--width", "0"],
    ["inspect", "x.cfg", "--frobnicate"], ["convert", "x.cfg", "x.weights"],
])
def test_unusable_arguments_exit_2_with_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_dump_writes_every_layer_as_darknet_holds_it(files, capsys, tmp_path):
    cfg, weights, _ = files
    x = np.random.default_rng(0).random((3, 64, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x[None])  # 1xCHW is accepted too
    code, out, _ = run(capsys, "dump", cfg, weights, "--input", tmp_path / "x.npy",
                       "-o", tmp_path / "out.npz")
    assert code == 0 and "12 layers" in out
    dumped = np.load(tmp_path / "out.npz")
    assert sorted(dumped.files) == [f"layer_{i:03d}" for i in range(12)]
    assert [dumped[f"layer_{i:03d}"].shape for i in range(12)] == SHAPES
    model, _ = load_model(cfg, weights)
    model.channels_last = False
    with torch.no_grad():
        outputs = model(torch.from_numpy(x)[None], all_outputs=True)
    for layer, output in zip(model.network.layers, outputs):
        expected = layer_type(layer.type).darknet_output(layer, output[0].numpy())
        np.testing.assert_allclose(dumped[f"layer_{layer.index:03d}"], expected, rtol=1e-5,
                                   atol=1e-6)
    # what the layers mean, from the dump alone: a 2x2 max pool, then shortcut = 1 + 2
    conv0 = dumped["layer_000"]
    np.testing.assert_array_equal(dumped["layer_001"],
                                  conv0.reshape(8, 32, 2, 32, 2).max(axis=(2, 4)))
    np.testing.assert_allclose(dumped["layer_003"], dumped["layer_001"] + dumped["layer_002"],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(dumped["layer_009"][16:], dumped["layer_003"])


def test_dump_refuses_an_input_of_the_wrong_shape(files, capsys, tmp_path):
    cfg, weights, _ = files
    np.save(tmp_path / "x.npy", np.zeros((3, 32, 32), np.float32))
    code, _, err = run(capsys, "dump", cfg, weights, "--input", tmp_path / "x.npy",
                       "-o", tmp_path / "out.npz")
    assert code == 2 and "[3, 32, 32] does not match the network input [3, 64, 64]" in err
    assert_one_line_error(err)
    assert not (tmp_path / "out.npz").exists()


def test_failed_dump_leaves_nothing_half_written(files, capsys, tmp_path, monkeypatch):
    cfg, weights, _ = files
    np.save(tmp_path / "x.npy", np.zeros((3, 64, 64), np.float32))
    target = tmp_path / "out" / "result.npz"
    target.parent.mkdir()
    target.write_bytes(b"previous result")

    def disk_full(out, **arrays):
        out.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(np, "savez", disk_full)
    code, _, err = run(capsys, "dump", cfg, weights, "--input", tmp_path / "x.npy",
                       "-o", target)
    assert code == 2 and "No space left on device" in err
    assert_one_line_error(err)
    assert target.read_bytes() == b"previous result"
    assert os.listdir(target.parent) == ["result.npz"]


def test_output_in_a_missing_folder_exits_2(files, capsys, tmp_path):
    cfg, weights, _ = files
    code, _, err = run(capsys, "convert", cfg, weights, "-o", tmp_path / "no" / "m.pt")
    assert code == 2 and "does not exist" in err


def _console_script() -> str | None:
    script = os.path.join(os.path.dirname(sys.executable), "darknet-inspector")
    return script if os.path.exists(script) else None


@pytest.mark.parametrize("extra", [["--json"], []])
def test_python_main_py_behaves_as_the_console_script(files, extra):
    cfg, weights, _ = files
    weights.write_bytes(weights.read_bytes()[:-8])  # a problem, so that the exit code is 1
    commands = [[sys.executable, str(ROOT / "main.py")]]
    if _console_script():
        commands.append([_console_script()])
    results = [subprocess.run([*c, "inspect", str(cfg), str(weights), *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=120) for c in commands]
    assert results[0].returncode == 1 and "8 bytes early" in results[0].stdout
    for other in results[1:]:
        assert (other.returncode, other.stdout, other.stderr) == (
            results[0].returncode, results[0].stdout, results[0].stderr)


def test_python_main_py_unusable_input_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect",
                             str(tmp_path / "missing.cfg")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line_error(result.stderr)


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_unless_the_user_chose(files, capsys, monkeypatch, preset,
                                                     expected):
    if preset is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", preset)
    cfg, _, _ = files
    assert run(capsys, "inspect", cfg)[0] == 0
    assert os.environ["OMP_WAIT_POLICY"] == expected


@pytest.mark.parametrize(("name", "kind"), [("m.onnx", "onnx"), ("m.pt2", "pt2"),
                                            ("m.ts", "torchscript"), ("m.pt", "pt")])
def test_convert_format_follows_the_output_extension(files, capsys, tmp_path, name, kind):
    if kind == "onnx":
        pytest.importorskip("onnx")
    cfg, weights, _ = files
    code, out, err = run(capsys, "convert", cfg, weights, "-o", tmp_path / name)
    assert code == 0, err
    assert f"({kind}," in out.splitlines()[0]
    head = (tmp_path / name).read_bytes()[:4]
    assert (head == b"PK\x03\x04") == (kind != "onnx")  # ONNX is protobuf, not a zip


def test_convert_refuses_a_format_the_extension_contradicts(files, capsys, tmp_path):
    cfg, weights, _ = files
    code, _, err = run(capsys, "convert", cfg, weights, "-o", tmp_path / "m.onnx",
                       "--format", "pt")
    assert code == 2
    assert_one_line_error(err)
    assert "onnx" in err and not (tmp_path / "m.onnx").exists()


def test_detect_save_says_where_it_wrote(capsys, tmp_path):
    from darknet_inspector.core.demo import demo_available, demo_files

    if not demo_available():
        pytest.skip("the bundled demo is missing")
    demo = demo_files()
    target = tmp_path / "boxes.png"
    code, out, err = run(capsys, "detect", demo.cfg, demo.weights, demo.image, "--save",
                         target)
    assert code == 0, err
    assert f"wrote {target}" in out.splitlines()
    assert target.is_file()


def test_convert_to_onnx_without_onnx_names_the_pip_line(files, capsys, tmp_path,
                                                         monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    cfg, weights, _ = files
    code, _, err = run(capsys, "convert", cfg, weights, "-o", tmp_path / "m.onnx")
    assert code == 2
    assert_one_line_error(err)
    assert "pip install onnx" in err and "internal error" not in err


def test_detect_class_conf_raises_one_class_threshold_only(capsys, tmp_path):
    from darknet_inspector.core.demo import demo_available, demo_files

    if not demo_available():
        pytest.skip("the bundled demo is missing")
    demo = demo_files()
    args = ["detect", demo.cfg, demo.weights, demo.image, "--names", demo.names,
            "--json", "-"]
    code, out, _ = run(capsys, *args)
    everything = json.loads(out)["detections"]
    first = everything[0]["name"]
    code, out, err = run(capsys, *args, "--class-conf", f"{first}=0.999")
    assert code == 0, err
    kept = json.loads(out)["detections"]
    assert [d for d in everything if d["name"] != first] == kept
    code, _, err = run(capsys, *args, "--class-conf", "nosuchclass=0.5")
    assert code == 2 and "nosuchclass" in err


def test_swapped_cfg_and_weights_say_they_look_swapped(files, capsys):
    cfg, weights, _ = files
    code, _, err = run(capsys, "inspect", weights, cfg)
    assert code == 2
    assert_one_line_error(err)
    assert "swapped" in err


TREE_CLASSIFIER = """[net]
width=16
height=16
channels=3

[convolutional]
filters=5
size=3
stride=2
pad=1
activation=leaky

[avgpool]

[softmax]
groups=1
temperature=2
tree=data/9k.tree
"""
CLASSIFIER_TREE = "a 2\nb 2\nc -1\nd -1\ne -1\n"  # groups (), (a, b), (c, d, e)


@pytest.fixture
def tree_classifier(tmp_path):
    """A darknet9000-style classifier: [softmax] tree= on 5 pooled values."""
    cfg, weights, tree = tree_model_files(tmp_path, "c9k", TREE_CLASSIFIER, CLASSIFIER_TREE, 4)
    x = np.random.default_rng(6).random((3, 16, 16), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    return cfg, weights, tree, tmp_path / "x.npy"


def test_softmax_tree_without_its_tree_file_is_refused_naming_option_line_and_layer(
        tree_classifier, capsys, tmp_path):
    cfg, weights, _, x = tree_classifier
    for argv in (["dump", cfg, weights, "--input", x, "-o", tmp_path / "o.npz"],
                 ["convert", cfg, weights, "-o", tmp_path / "o.pt"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert err == ("darknet-inspector: layer 2 ([softmax], cfg line 18: tree=data/9k.tree) "
                       "needs its tree file to run: give it with --tree FILE (in the app: Tree "
                       "file\u2026 in the Detection preview tab)\n"), argv
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "o.pt").exists()
    assert run(capsys, "inspect", cfg, weights)[0] == 0


def test_dump_with_the_tree_file_runs_the_tree_softmax(tree_classifier, capsys, tmp_path):
    """The dumped [softmax] is `forward_softmax_layer`'s output (before `classifier
    predict`'s hierarchy_predictions): Darknet's softmax_tree of the dumped avgpool."""
    from tests.core.layers.layer_support import darknet_softmax_tree

    cfg, weights, tree, x = tree_classifier
    code, _, err = run(capsys, "dump", cfg, weights, "--input", x, "-o", tmp_path / "o.npz",
                       "--tree", tree)
    assert code == 0, err
    dumped = np.load(tmp_path / "o.npz")
    want = darknet_softmax_tree(dumped["layer_001"], (0, 2, 3), temperature=2)
    np.testing.assert_allclose(dumped["layer_002"], want, rtol=2e-6, atol=1e-7)
    assert run(capsys, "convert", cfg, weights, "--tree", tree, "-o", tmp_path / "o.pt")[0] == 0


def test_verify_marks_the_tree_softmax_as_where_opencv_differs(tree_classifier, capsys):
    """OpenCV's importer ignores tree= (one softmax over all five values): that layer is
    "reference differs", not a divergence of ours."""
    cfg, weights, tree, _ = tree_classifier
    code, out, err = run(capsys, "verify", cfg, weights, "--tree", tree)
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if " softmax " in line]
    assert row.endswith("reference differs (reference differs from Darknet here: [softmax] "
                        "tree=: OpenCV ignores the tree file and softmaxes all classes at once)")
