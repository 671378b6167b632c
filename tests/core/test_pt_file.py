"""Our .pt: `convert` writes a self-contained file that reloads without the cfg (plain
`torch.load(weights_only=True)` reads it), gives the same outputs, and is written
atomically; --fuse agrees with the unfused model to ~1e-5."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from darknet_inspector.core.cli import main
from darknet_inspector.core.darknet_tree import read_tree
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.pt_file import PT_FORMAT, load_pt, save_pt
from darknet_inspector.core.weights import WeightsHeader
from tests.core.test_cli import CFG
from tests.core.test_detect import TREE, TREE_CFG
from tests.helpers import net_from_text, write_random_weights


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / "small.cfg"
    cfg.write_text(CFG)
    weights = tmp_path / "small.weights"
    write_random_weights(net_from_text(CFG), weights, seed=2, header=WeightsHeader(0, 1, 0, 99))
    return cfg, weights


def _input(seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _outputs(model, x):
    with torch.no_grad():
        return [t.clone() for t in model(x)]


def test_convert_reloads_without_the_cfg_and_gives_identical_outputs(files, tmp_path, capsys):
    cfg, weights = files
    x = _input()
    original, _ = load_model(cfg, weights)
    expected = _outputs(original, x)
    target = tmp_path / "model.pt"
    assert main(["convert", str(cfg), str(weights), "-o", str(target)]) == 0
    assert "wrote" in capsys.readouterr().out
    os.remove(cfg)
    os.remove(weights)
    reloaded = load_pt(target)
    assert reloaded.header == WeightsHeader(0, 1, 0, 99)
    assert [layer.output_shape for layer in reloaded.network.layers] == [
        layer.output_shape for layer in original.network.layers]
    for ours, theirs in zip(_outputs(reloaded, x), expected):
        assert torch.equal(ours, theirs)
    for key, tensor in original.darknet_tensors().items():
        assert torch.equal(reloaded.darknet_tensors()[key], tensor)


def test_pt_is_plain_data_that_weights_only_torch_load_reads(files, tmp_path):
    cfg, weights = files
    model, _ = load_model(cfg, weights)
    save_pt(model, tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert payload["format"] == PT_FORMAT and payload["cfg_text"] == CFG
    assert (payload["width"], payload["height"]) == (64, 64)
    assert payload["header"] == {"major": 0, "minor": 1, "revision": 0, "seen": 99}
    assert payload["heads"] == [6, 11]
    assert set(payload["tensors"]) == {f"{i}.{n}" for i, n in model.darknet_tensors()}


def test_fused_model_agrees_with_unfused_to_1e_5(files, tmp_path):
    cfg, weights = files
    x = _input(1)
    model, _ = load_model(cfg, weights)
    unfused = _outputs(model, x)
    assert main(["convert", str(cfg), str(weights), "-o", str(tmp_path / "f.pt"), "--fuse"]) == 0
    fused = load_pt(tmp_path / "f.pt")
    assert all(getattr(m, "fused", False) for m in fused.layers if hasattr(m, "batch_normalize")
               and m.batch_normalize)
    for ours, theirs in zip(_outputs(fused, x), unfused):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(_outputs(model.fuse(), x), _outputs(fused, x)):
        assert torch.equal(ours, theirs)


def test_convert_of_a_model_with_problems_exits_1_and_writes_nothing(files, tmp_path, capsys):
    cfg, weights = files
    weights.write_bytes(weights.read_bytes()[:-8])
    target = tmp_path / "model.pt"
    assert main(["convert", str(cfg), str(weights), "-o", str(target)]) == 1
    assert "ends 8 bytes early" in capsys.readouterr().err
    assert not target.exists()


def test_convert_runs_on_a_file_with_trailing_bytes(files, tmp_path):
    cfg, weights = files
    weights.write_bytes(weights.read_bytes() + b"\0" * 8)  # Darknet ignores them too
    target = tmp_path / "model.pt"
    assert main(["convert", str(cfg), str(weights), "-o", str(target)]) == 0
    assert target.exists()


def test_failed_save_keeps_the_previous_file_and_leaves_no_temp(files, tmp_path, monkeypatch):
    cfg, weights = files
    model, _ = load_model(cfg, weights)
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "model.pt"
    target.write_bytes(b"previous")

    def interrupted(obj, out, *args, **kwargs):
        out.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_pt(model, target)
    assert target.read_bytes() == b"previous" and os.listdir(folder) == ["model.pt"]


@pytest.mark.parametrize("payload, words", [
    ({"a": 1}, "not a model written by darknet-inspector convert"),
    ({"format": PT_FORMAT, "cfg_text": CFG}, "incomplete darknet-inspector model"),
])
def test_foreign_or_incomplete_pt_is_a_usage_error(tmp_path, payload, words):
    torch.save(payload, tmp_path / "x.pt")
    with pytest.raises(UsageError, match=words):
        load_pt(tmp_path / "x.pt")


def test_pt_with_a_wrong_tensor_names_it(files, tmp_path):
    cfg, weights = files
    model, _ = load_model(cfg, weights)
    save_pt(model, tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["tensors"]["4.weights"] = torch.zeros(3)
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(UsageError, match="tensor 4.weights has 3 values, layer 4 needs 1152"):
        load_pt(tmp_path / "m.pt")
    del payload["tensors"]["4.weights"]
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(UsageError, match="tensor 4.weights is missing"):
        load_pt(tmp_path / "m.pt")


def test_not_a_torch_file_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    code = main(["export-weights", str(tmp_path / "x.pt"), "-o", str(tmp_path / "y.weights")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not a loadable PyTorch file" in err


def test_convert_then_export_weights_preserves_a_16_byte_header(files, tmp_path, capsys):
    cfg, weights = files
    assert main(["convert", str(cfg), str(weights), "-o", str(tmp_path / "m.pt")]) == 0
    assert main(["export-weights", str(tmp_path / "m.pt"), "-o", str(tmp_path / "b.weights")]) == 0
    assert (tmp_path / "b.weights").read_bytes() == weights.read_bytes()


def test_convert_keeps_the_width_and_height_it_was_given(files, tmp_path):
    cfg, weights = files
    target = tmp_path / "wide.pt"
    assert main(["convert", str(cfg), str(weights), "-o", str(target), "--width", "96",
                 "--height", "128"]) == 0
    model = load_pt(target)
    assert model.network.input_shape == (3, 128, 96)
    with torch.no_grad():
        heads = model(torch.rand(1, 3, 128, 96))
    assert [tuple(h.shape) for h in heads] == [(1, 18, 32, 24), (1, 18, 64, 48)]


def test_a_tree_model_embeds_its_tree_file_and_runs_from_the_pt_alone(tmp_path):
    """YOLO9000's tree file travels inside the .pt, as the cfg does: the reloaded model
    runs the tree softmax with no --tree (and export-weights reads it back)."""
    cfg, tree, weights = tmp_path / "y9k.cfg", tmp_path / "mine.tree", tmp_path / "y.weights"
    cfg.write_text(TREE_CFG)
    tree.write_text(TREE)
    given = read_tree(tree)
    write_random_weights(load_network(cfg, tree=given), weights, seed=4)
    out = tmp_path / "y.pt"
    assert main(["convert", str(cfg), str(weights), "--tree", str(tree), "-o", str(out)]) == 0
    tree.unlink()
    model = load_pt(out)
    assert model.network.tree is not None
    assert (model.network.tree.names, model.network.tree.parents) == (given.names,
                                                                      given.parents)
    ours, _ = load_model(cfg, weights, tree=given)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], ours(x)[0], rtol=0, atol=0)
    assert main(["export-weights", str(out), "-o", str(tmp_path / "back.weights")]) == 0
    assert (tmp_path / "back.weights").read_bytes() == weights.read_bytes()
