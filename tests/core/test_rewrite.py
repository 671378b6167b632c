"""`partial` and `header`: byte-exact outputs, computed independently here."""

from __future__ import annotations

import struct

import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.demo import demo_files
from darknet_inspector.core.network import load_network


def layer_bytes(cfg, count: int) -> int:
    return sum(4 * sum(t.count for t in layer.weights)
               for layer in load_network(cfg).layers[:count])


@pytest.mark.parametrize("count", [1, 5, 17, 1000])
def test_partial_writes_darknets_header_and_the_first_layers(tmp_path, count):
    files = demo_files()
    data = files.weights.read_bytes()
    out = tmp_path / "part.weights"
    assert main(["partial", str(files.cfg), str(files.weights), str(count), "-o",
                 str(out)]) == 0
    expected = struct.pack("<iiiQ", 0, 2, 5, 0) + data[20:20 + layer_bytes(files.cfg, count)]
    assert out.read_bytes() == expected


def test_partial_refuses_a_file_too_short(tmp_path):
    files = demo_files()
    short = tmp_path / "short.weights"
    short.write_bytes(files.weights.read_bytes()[:100])
    out = tmp_path / "part.weights"
    assert main(["partial", str(files.cfg), str(short), "20", "-o", str(out)]) == 2
    assert not out.exists()


def test_header_resets_seen_and_keeps_the_body(tmp_path):
    source = tmp_path / "in.weights"
    body = bytes(range(256)) * 4
    source.write_bytes(struct.pack("<iiiQ", 0, 2, 5, 123456) + body)
    out = tmp_path / "out.weights"
    assert main(["header", str(source), "-o", str(out), "--reset-seen"]) == 0
    assert out.read_bytes() == struct.pack("<iiiQ", 0, 2, 5, 0) + body


def test_header_version_reencodes_seen(tmp_path):
    source = tmp_path / "in.weights"
    body = b"\1\2\3\4" * 10
    source.write_bytes(struct.pack("<iiiQ", 0, 2, 5, 77) + body)
    old = tmp_path / "old.weights"
    assert main(["header", str(source), "-o", str(old), "--version", "0.1.0"]) == 0
    assert old.read_bytes() == struct.pack("<iiiI", 0, 1, 0, 77) + body
    back = tmp_path / "back.weights"
    assert main(["header", str(old), "-o", str(back), "--version", "0.2.5"]) == 0
    assert back.read_bytes() == source.read_bytes()


def test_header_fixes_a_4_byte_seen_under_0_2(tmp_path):
    source = tmp_path / "in.weights"
    body = b"\5\6\7\x08" * 10
    source.write_bytes(struct.pack("<iiiI", 0, 2, 5, 99) + body)
    out = tmp_path / "out.weights"
    assert main(["header", str(source), "-o", str(out), "--header-bytes", "16"]) == 0
    assert out.read_bytes() == struct.pack("<iiiQ", 0, 2, 5, 99) + body


def test_header_never_writes_in_place(tmp_path, capsys):
    source = tmp_path / "in.weights"
    source.write_bytes(struct.pack("<iiiQ", 0, 2, 5, 1) + bytes(8))
    before = source.read_bytes()
    assert main(["header", str(source), "-o", str(source), "--reset-seen"]) == 2
    assert source.read_bytes() == before
    assert "is also an input" in capsys.readouterr().err


def test_inspect_shows_seen_as_iterations_and_warns_past_max_batches(tmp_path, capsys):
    files = demo_files()
    text = files.cfg.read_text()
    network = load_network(files.cfg)
    section = network.net.section
    batch, subdivisions = section.int("batch", 1), section.int("subdivisions", 1)
    per = (batch // subdivisions) * subdivisions
    max_batches = section.int("max_batches", 0)
    weights = tmp_path / "seen.weights"
    data = files.weights.read_bytes()
    weights.write_bytes(data[:12] + struct.pack("<Q", per * max_batches) + data[20:])
    cfg = tmp_path / "demo.cfg"
    cfg.write_text(text)
    assert main(["inspect", str(cfg), str(weights)]) == 0
    out = capsys.readouterr().out
    assert f"= {max_batches:,} iterations of {per}" in out
    assert "would stop at once" in out
