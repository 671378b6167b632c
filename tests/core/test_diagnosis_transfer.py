"""Transfer preview: with pretrained weights of a related network, which layers load
exactly, the first that would not, and the `partial` cut (inspect text and JSON)."""

from __future__ import annotations

import json

import pytest

from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.cli import main
from darknet_inspector.core.demo import demo_files, make_broken_demo
from darknet_inspector.core.diagnosis.engine import diagnose
from darknet_inspector.core.diagnosis.transfer import transfer_preview
from darknet_inspector.core.network import build_network, load_network
from darknet_inspector.core.weights import random_weights, write_weights
from tests.conftest import zoo_path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """yolov4-tiny's 80-class weights (random, healthy) and a 3-class custom cfg."""
    folder = tmp_path_factory.mktemp("tiny")
    text = zoo_path("cfg", "yolov4-tiny.cfg").read_text()
    full = build_network(parse_cfg(text))
    weights = folder / "yolov4-tiny.weights"
    write_weights(weights, full, random_weights(full, seed=1))
    custom = folder / "custom.cfg"
    custom.write_text(text.replace("classes=80", "classes=3").replace("filters=255",
                                                                      "filters=24"))
    return custom, weights


def test_pretrained_weights_of_the_80_class_net_load_up_to_the_first_head_conv(tiny):
    custom, weights = tiny
    network = load_network(custom)
    preview = transfer_preview(network, diagnose(network, weights))
    assert preview is not None
    assert preview.exact == 29 and preview.layer == 29  # the famous yolov4-tiny.conv.29
    assert network.layers[29].type == "convolutional"
    command = preview.command(str(custom), str(weights))
    assert command.endswith(f"{weights} 29 -o yolov4-tiny.conv.29")


def test_weights_of_another_zoo_network_cut_where_the_layouts_part(tiny):
    _, weights = tiny
    network = load_network(zoo_path("cfg", "yolov4-tiny-3l.cfg"))
    found = diagnose(network, weights)
    assert found[0].cause == "other_model"
    preview = transfer_preview(network, found)
    assert preview is not None and preview.exact == found[0].layer > 0


def test_truncated_file_loads_the_layers_before_the_one_it_ends_in(tmp_path):
    cfg, weights = make_broken_demo(tmp_path)
    network = load_network(cfg)
    preview = transfer_preview(network, diagnose(network, weights))
    assert preview is not None and (preview.exact, preview.cause) == (18, "truncated")


def test_a_matching_pair_and_trailing_bytes_need_no_transfer(tmp_path):
    files = demo_files()
    network = load_network(files.cfg)
    assert transfer_preview(network, diagnose(network, files.weights)) is None
    longer = tmp_path / "longer.weights"
    longer.write_bytes(files.weights.read_bytes() + b"\0" * 8)
    assert transfer_preview(network, diagnose(network, longer)) is None


def test_inspect_prints_the_cut_and_carries_it_in_json(tiny, capsys):
    custom, weights = tiny
    main(["inspect", str(custom), str(weights)])
    out = capsys.readouterr().out
    assert "transfer: layers 0..28 load exactly, layer 29 ([convolutional]" in out
    assert f"darknet-inspector partial {custom} {weights} 29 -o yolov4-tiny.conv.29" in out
    assert out.index("transfer:") < out.index("#  type")  # with the diagnosis, before the table
    main(["inspect", str(custom), str(weights), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["transfer"]["exact_layers"] == 29 and report["transfer"]["layer"] == 29
    assert report["transfer"]["cause"] == "classes"
    assert report["transfer"]["command"].endswith("29 -o yolov4-tiny.conv.29")
    assert {f["cause"] for f in report["diagnosis"]} <= {"truncated", "trailing_bytes",
                                                         "classes", "cfg_diverges",
                                                         "header", "other_model"}
    files = demo_files()
    main(["inspect", str(files.cfg), str(files.weights), "--json"])
    assert json.loads(capsys.readouterr().out)["transfer"] is None
