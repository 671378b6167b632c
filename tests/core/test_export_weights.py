"""Back to Darknet: .weights -> .pt -> .weights is byte-identical (header and `seen`
included), from our .pt and from a plain state_dict plus its cfg."""

from __future__ import annotations

import pytest
import torch

from darknet_inspector.core.cli import main
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.pt_file import export_weights, save_pt, weights_source
from darknet_inspector.core.weights import WeightsHeader, random_weights, write_weights
from tests.conftest import zoo_path

ZOO_CASES = [
    ("writing.cfg", WeightsHeader(0, 2, 5, 987654321)),
    ("tiny.cfg", WeightsHeader(0, 1, 0, 4000000000)),  # 16-byte header, uint32 seen
    ("yolov4-tiny.cfg", WeightsHeader(0, 2, 5, 2**40 + 7)),
    ("yolov3-tiny_occlusion_track.cfg", WeightsHeader(0, 2, 5, 12)),  # nested crnn tensors
    ("rnn.cfg", WeightsHeader(1001, 2, 5, 64)),  # transposed [connected]/[rnn] matrices
]
SIZE = 64


def original(tmp_path, name: str, header: WeightsHeader):
    cfg = zoo_path("cfg", name)
    network = load_network(cfg, SIZE, SIZE)
    path = tmp_path / "original.weights"
    write_weights(path, network, random_weights(network, seed=5), header)
    return cfg, path


@pytest.mark.parametrize("name,header", ZOO_CASES, ids=[c[0] for c in ZOO_CASES])
def test_weights_pt_weights_round_trip_is_byte_identical(tmp_path, name, header):
    cfg, path = original(tmp_path, name, header)
    model, _ = load_model(cfg, path, SIZE, SIZE)
    save_pt(model, tmp_path / "model.pt")
    del model
    source = weights_source(tmp_path / "model.pt")
    assert source.errors == []
    assert source.header == header
    export_weights(source, tmp_path / "back.weights")
    assert (tmp_path / "back.weights").read_bytes() == path.read_bytes()


def test_cli_convert_then_export_weights_is_byte_identical(yolo_fastest, tmp_path, capsys):
    cfg, weights = yolo_fastest
    assert main(["convert", str(cfg), str(weights), "-o", str(tmp_path / "m.pt")]) == 0
    assert main(["export-weights", str(tmp_path / "m.pt"), "-o",
                 str(tmp_path / "back.weights")]) == 0
    assert (tmp_path / "back.weights").read_bytes() == weights.read_bytes()
    assert "seen 14231680" in capsys.readouterr().out


def plain_case(tmp_path):
    cfg = zoo_path("cfg", "yolov4-tiny.cfg")
    network = load_network(cfg)
    path = tmp_path / "original.weights"
    write_weights(path, network, random_weights(network, seed=2))  # default header
    model, _ = load_model(cfg, path)
    return cfg, path, model


def test_plain_state_dict_with_cfg_round_trips(tmp_path):
    cfg, path, model = plain_case(tmp_path)
    state = {f"{i}.{name}": t.clone() for (i, name), t in model.darknet_tensors().items()}
    torch.save(state, tmp_path / "state.pt")
    assert main(["export-weights", str(tmp_path / "state.pt"), "--cfg", str(cfg), "-o",
                 str(tmp_path / "back.weights")]) == 0
    assert (tmp_path / "back.weights").read_bytes() == path.read_bytes()


def test_model_state_dict_keys_with_layers_prefix_are_accepted(tmp_path):
    cfg, path, model = plain_case(tmp_path)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    source = weights_source(tmp_path / "state.pt", cfg)
    assert source.errors == []
    export_weights(source, tmp_path / "back.weights")
    assert (tmp_path / "back.weights").read_bytes() == path.read_bytes()


def test_plain_state_dict_without_cfg_asks_for_it(tmp_path, capsys):
    _, _, model = plain_case(tmp_path)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    assert main(["export-weights", str(tmp_path / "state.pt"), "-o",
                 str(tmp_path / "out.weights")]) == 2
    assert "--cfg CFG" in capsys.readouterr().err
    assert not (tmp_path / "out.weights").exists()


def test_state_dict_for_another_cfg_names_the_first_missing_tensor(tmp_path, capsys):
    _, _, model = plain_case(tmp_path)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    other = zoo_path("cfg", "yolov3-tiny.cfg")
    assert main(["export-weights", str(tmp_path / "state.pt"), "--cfg", str(other), "-o",
                 str(tmp_path / "out.weights")]) == 1
    err = capsys.readouterr().err
    assert "tensor '0.weights' has shape [32, 3, 3, 3]" in err
    assert "layer 0 ([convolutional]) needs weights [16, 3, 3, 3]" in err
    assert not (tmp_path / "out.weights").exists()


def test_fused_pt_is_refused(tmp_path, capsys):
    cfg, path, model = plain_case(tmp_path)
    save_pt(model.fuse(), tmp_path / "fused.pt")
    assert main(["export-weights", str(tmp_path / "fused.pt"), "-o",
                 str(tmp_path / "out.weights")]) == 2
    assert "--fuse" in capsys.readouterr().err


def test_foreign_torch_file_is_refused(tmp_path, capsys):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    assert main(["export-weights", str(tmp_path / "list.pt"), "-o",
                 str(tmp_path / "out.weights")]) == 2
    assert "neither a model written by darknet-inspector" in capsys.readouterr().err
