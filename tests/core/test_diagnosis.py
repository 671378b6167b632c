"""The diagnosis engine on broken pairs made from a real trained model (yolo-fastest),
the bundled demo and zoo cfgs with random weights: the right top cause and layer, and a
verified fix where one exists."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from darknet_inspector.core.cfg import parse_cfg, split_lines
from darknet_inspector.core.demo import demo_files, make_broken_demo
from darknet_inspector.core.diagnosis.engine import diagnose
from darknet_inspector.core.network import build_network, load_network
from darknet_inspector.core.weights import random_weights, write_weights
from tests.conftest import zoo_path


@pytest.fixture(scope="module")
def fastest() -> tuple[str, bytes]:
    folder = zoo_path("yolo-fastest-1.1")
    return ((folder / "yolo-fastest-1.1.cfg").read_text(),
            (folder / "yolo-fastest-1.1.weights").read_bytes())


def diagnosis_of(tmp_path: Path, cfg_text: str, data: bytes):
    cfg, weights = tmp_path / "model.cfg", tmp_path / "model.weights"
    cfg.write_text(cfg_text)
    weights.write_bytes(data)
    return diagnose(load_network(cfg), weights)


def set_option(cfg_text: str, layer: int, key: str, value: str) -> str:
    """The cfg with `key=value` in layer `layer`'s section (replaced or added)."""
    section = build_network(parse_cfg(cfg_text)).layers[layer].section
    lines = split_lines(cfg_text)
    if section.has(key):
        lines[section.line_of(key) - 1] = f"{key}={value}"
    else:
        lines.insert(section.line, f"{key}={value}")
    return "\n".join(lines)


def section_span(cfg_text: str, layer: int) -> tuple[int, int]:
    layers = build_network(parse_cfg(cfg_text)).layers
    return layers[layer].section.line, layers[layer + 1].section.line - 1


def test_intact_pairs_get_no_diagnosis(tmp_path, fastest):
    assert diagnosis_of(tmp_path, *fastest) == []
    files = demo_files()
    assert diagnose(load_network(files.cfg), files.weights) == []


@pytest.mark.parametrize("keep", [21, 1000, 4099, 300_000, 700_001, 700_000, 1_384_000,
                                  1_384_267])
def test_truncated_file_is_truncated_at_the_layer_where_it_ends(tmp_path, fastest, keep):
    text, data = fastest
    top = diagnosis_of(tmp_path, text, data[:keep])[0]
    assert top.cause == "truncated" and not top.verified
    network = build_network(parse_cfg(text))
    offset = 20
    for layer in network.layers:
        offset += layer.weight_bytes
        if layer.weights and offset > keep:
            break
    assert top.layer == layer.index and top.line == layer.line


@pytest.mark.parametrize("extra", [b"\0" * 40, b"x" * 1234, b"\1\2\3"])
def test_appended_bytes_are_trailing_bytes(tmp_path, fastest, extra):
    text, data = fastest
    (top,) = diagnosis_of(tmp_path, text, data + extra)
    assert top.cause == "trailing_bytes" and top.layer is None and top.verified
    assert f"{len(extra):,} bytes follow" in top.message
    whole = "floats" if len(extra) % 4 == 0 else "not a whole number of floats"
    assert whole in top.message


def test_classes_changed_without_filters_keeps_the_weights_filters(tmp_path, fastest):
    text, data = fastest
    top = diagnosis_of(tmp_path, text.replace("classes=80", "classes=20"), data)[0]
    assert top.cause == "classes" and top.verified
    assert "set classes=80" in top.fix and "filters" not in top.fix


def test_classes_changed_with_filters_solves_the_class_count(tmp_path, fastest):
    text, data = fastest
    broken = text.replace("classes=80", "classes=1").replace("filters=255", "filters=18")
    top = diagnosis_of(tmp_path, broken, data)[0]
    assert top.cause == "classes" and top.verified
    assert "trained with 80 classes" in top.message
    assert "set classes=80" in top.fix and "filters=255" in top.fix
    assert top.layer == 120
    fixed = build_network(parse_cfg(top.fixed_cfg))
    assert fixed.weight_bytes() + 20 == len(data) and not fixed.errors


@pytest.mark.parametrize("layer, key, value, words", [
    (62, "size", "5", "hold a 3x3 kernel here, the cfg asks for 5x5"),
    (62, "groups", "1", "groups=136"),
    (61, "batch_normalize", "0", "hold batch-norm statistics here"),
    (63, "batch_normalize", "0", "hold batch-norm statistics here"),
])
def test_changed_middle_layer_is_found_and_fixed(tmp_path, fastest, layer, key, value, words):
    text, data = fastest
    top = diagnosis_of(tmp_path, set_option(text, layer, key, value), data)[0]
    assert top.cause == "cfg_diverges" and top.layer == layer and top.verified
    assert words in top.message
    assert build_network(parse_cfg(top.fixed_cfg)).weight_bytes() + 20 == len(data)


def test_layer_missing_from_the_cfg_is_inserted(tmp_path, fastest):
    text, data = fastest
    start, end = section_span(text, 62)
    lines = split_lines(text)
    del lines[start - 1:end]
    top = diagnosis_of(tmp_path, "\n".join(lines), data)[0]
    assert top.cause == "cfg_diverges" and top.layer == 62 and top.verified
    assert top.fix.startswith(f"insert before line {start}")
    assert "size=3" in top.fix and "groups=136" in top.fix


def test_layer_added_to_the_cfg_is_deleted(tmp_path, fastest):
    text, data = fastest
    start, end = section_span(text, 62)
    lines = split_lines(text)
    lines[end:end] = lines[start - 1:end]
    top = diagnosis_of(tmp_path, "\n".join(lines), data)[0]
    assert top.cause == "cfg_diverges" and top.layer in (62, 63) and top.verified
    assert "delete the [convolutional] section" in top.fix


def test_filters_changed_in_a_middle_layer(tmp_path):
    files = demo_files()
    text = files.cfg.read_text()
    network = build_network(parse_cfg(text))
    layer = next(layer for layer in network.layers[3:] if layer.type == "convolutional"
                 and layer.section.int("size", 1) == 3 and not layer.section.has("groups"))
    filters = layer.section.int("filters", 1)
    broken = set_option(text, layer.index, "filters", str(filters * 2))
    found = diagnosis_of(tmp_path, broken, files.weights.read_bytes())
    assert found[0].cause == "cfg_diverges", found
    assert found[0].layer == layer.index
    if build_network(parse_cfg(broken)).complete:
        assert found[0].verified and f"filters={filters}" in found[0].fix


def test_16_byte_header_under_version_0_2_is_the_header(tmp_path, fastest):
    text, data = fastest
    top = diagnosis_of(tmp_path, text, data[:12] + data[12:16] + data[20:])[0]
    assert top.cause == "header" and top.verified and "--header-bytes 16" in top.fix


def test_broken_demo_names_the_classes_fix_and_the_truncation(tmp_path):
    cfg, weights = make_broken_demo(tmp_path)
    found = diagnose(load_network(cfg), weights)
    causes = [f.cause for f in found]
    assert causes == ["classes", "truncated"]
    assert "set classes=4" in found[0].fix


@pytest.mark.parametrize("trained, under, words", [
    ("yolov4-tiny.cfg", "yolov3-tiny.cfg", "fit yolov4-tiny.cfg with classes=3"),
    ("yolov3-tiny.cfg", "yolov4-tiny.cfg", "fit yolov3-tiny.cfg with classes=3"),
])
def test_weights_of_another_zoo_network_are_named(tmp_path, trained, under, words):
    text = zoo_path("cfg", trained).read_text()
    network = build_network(parse_cfg(text.replace("classes=80", "classes=3")
                                      .replace("filters=255", "filters=24")))
    weights = tmp_path / "other.weights"
    write_weights(weights, network, random_weights(network, seed=3))
    top = diagnose(load_network(zoo_path("cfg", under)), weights)[0]
    assert top.cause == "other_model" and top.verified and words in top.message


def test_diagnosis_of_a_large_model_is_fast(tmp_path):
    network = load_network(zoo_path("cfg", "yolov4-tiny.cfg"))
    weights = tmp_path / "w.weights"
    write_weights(weights, network, random_weights(network))
    text = network.cfg.text
    broken = set_option(text, 20, "size", "1" if network.layers[20].section.int("size") == 3
                        else "3")
    start = time.perf_counter()
    top = diagnosis_of(tmp_path, broken, weights.read_bytes())[0]
    assert time.perf_counter() - start < 2
    assert top.cause == "cfg_diverges" and top.layer == 20 and top.verified
