"""Weights files: the header rule, the streaming reader, the byte ledger and the writer."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from torch import nn

from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.layers import registry
from darknet_inspector.core.layers.base import Built, LayerType, TensorSpec
from darknet_inspector.core.weights import (
    WeightsHeader,
    WeightsReader,
    header_size,
    parse_header,
    random_weights,
    read_weights,
    serialize_weights,
    write_weights,
)
from tests.helpers import net_from_text, write_random_weights

SMALL = """[net]
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=6
size=1
activation=linear

[convolutional]
batch_normalize=1
filters=3
size=3
pad=1
activation=mish
"""

# (layer, tensor, float count) in file order, worked out by hand from Darknet's
# `load_convolutional_weights`: biases, [scales, rolling_mean, rolling_variance], weights.
SMALL_LAYOUT = [
    (0, "biases", 4), (0, "scales", 4), (0, "rolling_mean", 4), (0, "rolling_variance", 4),
    (0, "weights", 4 * 3 * 3 * 3),
    (2, "biases", 6), (2, "weights", 6 * 4),
    (3, "biases", 3), (3, "scales", 3), (3, "rolling_mean", 3), (3, "rolling_variance", 3),
    (3, "weights", 3 * 6 * 3 * 3),
]


def _spans(header_bytes: int = 20) -> list[tuple[int, str, int, int]]:
    """(layer, tensor, start byte, end byte) for SMALL."""
    spans, offset = [], header_bytes
    for layer, name, count in SMALL_LAYOUT:
        spans.append((layer, name, offset, offset + 4 * count))
        offset += 4 * count
    return spans


SPANS = _spans()
FULL_BYTES = SPANS[-1][3]


@pytest.fixture(scope="module")
def small():
    return net_from_text(SMALL)


@pytest.fixture(scope="module")
def small_file(small, tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "small.weights"
    tensors = write_random_weights(small, path, seed=3, header=WeightsHeader(0, 2, 5, 123456))
    return path, tensors, path.read_bytes()


@pytest.mark.parametrize("major, minor, size", [
    (0, 0, 16), (0, 1, 16), (0, 2, 20), (1, 0, 20), (0, -5, 16), (1001, 0, 20), (0, 1001, 20),
    (214748365, 0, 16),  # 214748365*10 overflows a C int and goes negative, as in Darknet
])
def test_header_seen_is_64_bit_when_major_times_10_plus_minor_reaches_2(major, minor, size):
    assert header_size(major, minor) == size
    seen = 2**32 - 7
    data = struct.pack("<iii", major, minor, 9) + (
        struct.pack("<Q", seen) if size == 20 else struct.pack("<I", seen))
    header = parse_header(data + b"\0" * 8)
    assert (header.major, header.minor, header.revision, header.seen) == (major, minor, 9, seen)
    assert header.size == size and header.pack() == data


def test_major_0_minor_1_header_is_16_bytes_and_weights_follow_it(small, tmp_path):
    path = tmp_path / "old.weights"
    tensors = write_random_weights(small, path, header=WeightsHeader(0, 1, 0, 77))
    data = path.read_bytes()
    assert len(data) == FULL_BYTES - 4 and struct.unpack_from("<iiiI", data) == (0, 1, 0, 77)
    records, ledger = read_weights(small, path)
    assert ledger.status == "ok" and ledger.header.size == 16 and ledger.header.seen == 77
    first = records[0].tensors[0]
    assert first.offset == 16
    np.testing.assert_array_equal(first.values, tensors[(0, "biases")])


@pytest.mark.parametrize("major, minor, transposed", [
    (0, 2, False), (1000, 0, False), (1001, 0, True), (0, 1001, True), (2000, 2000, True)])
def test_transposed_flag_is_major_or_minor_above_1000(major, minor, transposed):
    assert WeightsHeader(major, minor, 0, 0).transposed is transposed


def test_layout_matches_darknet_order(small):
    layout = [(layer.index, spec.name, spec.count) for layer in small.layers
              for spec in layer.weights]
    assert layout == SMALL_LAYOUT
    assert small.weight_bytes() + 20 == FULL_BYTES


@pytest.mark.parametrize("copy", [False, True])
def test_reader_streams_one_record_per_layer(small, small_file, copy):
    """One new writable array per tensor, read with plain I/O (never a memory map)."""
    path, tensors, data = small_file
    reader = WeightsReader(small, path, copy=copy)
    stream = reader.records()
    first = next(stream)
    assert reader.ledger is None  # nothing decided before the stream is exhausted
    rest = list(stream)
    records = [first, *rest]
    assert [r.index for r in records] == [0, 1, 2, 3]
    assert [r.status for r in records] == ["ok", "none", "ok", "ok"]
    got = [(t.layer, t.name, t.offset, t.offset + t.nbytes) for r in records for t in r.tensors]
    assert got == SPANS
    for record in records:
        for tensor in record.tensors:
            assert tensor.status == "ok"
            assert tensor.values.flags.writeable
            assert tensor.values.flags.c_contiguous and tensor.values.dtype == np.float32
            assert tensor.values.shape == tensor.shape
            raw = np.frombuffer(data[tensor.offset: tensor.offset + tensor.nbytes], "<f4")
            np.testing.assert_array_equal(tensor.values.ravel(), raw)
            np.testing.assert_array_equal(tensor.values, tensors[(tensor.layer, tensor.name)])
    assert reader.ledger.status == "ok" and reader.ledger.diagnostics == []
    assert reader.ledger.expected_bytes == reader.ledger.file_bytes == FULL_BYTES
    assert reader.ledger.header == WeightsHeader(0, 2, 5, 123456)


def _cut_points():
    points = []
    for layer, name, start, end in SPANS:
        points.append((start, layer, name, "missing"))  # boundary: the file ends before it
        points.append((start + 4, layer, name, "partial"))
        points.append((start + 2, layer, name, "partial"))  # not even a whole float
        points.append((end - 4, layer, name, "partial"))
    return sorted(set(points))


@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("cut, layer, tensor, status", _cut_points())
def test_truncated_file_names_first_partial_layer_and_tensor(small, small_file, tmp_path,
                                                               cut, layer, tensor, status, copy):
    _, tensors, data = small_file
    path = tmp_path / "cut.weights"
    path.write_bytes(data[:cut])
    records, ledger = read_weights(small, path, copy)
    assert ledger.status == "short" and ledger.expected_bytes == FULL_BYTES
    (error,) = ledger.diagnostics
    assert error.severity == "error" and error.layer == layer
    assert error.line == small.layers[layer].line
    assert f"layer {layer} " in error.message and f"its {tensor} tensor" in error.message
    assert f"{FULL_BYTES - cut:,} bytes early" in error.message
    flat = [t for r in records for t in r.tensors]
    cut_at = next(i for i, t in enumerate(flat) if t.status != "ok")
    assert (flat[cut_at].layer, flat[cut_at].name, flat[cut_at].status) == (layer, tensor, status)
    assert all(t.status == "missing" and t.values is None for t in flat[cut_at + 1:])
    for t in flat[:cut_at]:
        np.testing.assert_array_equal(t.values, tensors[(t.layer, t.name)])
    if status == "partial":
        assert "inside layer" in error.message
        assert f"only {cut - flat[cut_at].offset:,} of its" in error.message
    first_of_layer = next(name for index, name, _ in SMALL_LAYOUT if index == layer)
    cut_layer = "missing" if status == "missing" and tensor == first_of_layer else "partial"
    assert {r.index: r.status for r in records}[layer] == cut_layer
    assert records[1].status == "none"


@pytest.mark.parametrize("cut, done", [(SPANS[5][2], "layer 0"), (SPANS[7][2], "layers 0..2")])
def test_file_ending_on_a_layer_boundary_says_which_layers_are_complete(small, small_file,
                                                                          tmp_path, cut, done):
    path = tmp_path / "partial.weights"
    path.write_bytes(small_file[2][:cut])
    _, ledger = read_weights(small, path)
    (error,) = ledger.diagnostics
    assert f"holds {done} complete" in error.message and "cutoff" in error.message


def test_file_with_only_a_header_says_it_holds_no_weights(small, small_file, tmp_path):
    path = tmp_path / "header.weights"
    path.write_bytes(small_file[2][:20])
    records, ledger = read_weights(small, path)
    (error,) = ledger.diagnostics
    assert "holds no weights at all" in error.message and error.layer == 0
    assert [r.status for r in records] == ["missing", "none", "missing", "missing"]


@pytest.mark.parametrize("extra, words", [(4, "1 float more"), (40, "10 floats"),
                                          (3, "not a whole number of floats")])
def test_extra_bytes_are_reported_with_their_count(small, small_file, tmp_path, extra, words):
    path = tmp_path / "long.weights"
    path.write_bytes(small_file[2] + b"\1" * extra)
    records, ledger = read_weights(small, path)
    assert ledger.status == "long" and ledger.file_bytes == FULL_BYTES + extra
    (warning,) = ledger.diagnostics
    assert warning.severity == "warning" and f"{extra:,} bytes left over" in warning.message
    assert words in warning.message and "Darknet ignores" in warning.message
    assert all(r.status in ("ok", "none") for r in records)


@pytest.mark.parametrize("header", [WeightsHeader(0, 2, 5, 2**40 + 3),
                                    WeightsHeader(0, 1, 0, 2**32 - 1),
                                    WeightsHeader(1, 0, 0, 0)])
def test_write_read_write_is_byte_identical(small, tmp_path, header):
    first, second = tmp_path / "a.weights", tmp_path / "b.weights"
    write_random_weights(small, first, seed=11, header=header)
    records, ledger = read_weights(small, first)
    tensors = {(t.layer, t.name): t.values for r in records for t in r.tensors}
    write_weights(second, small, tensors, ledger.header)
    assert second.read_bytes() == first.read_bytes()
    assert ledger.header == header


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"\0" * 11, "11 bytes, shorter than a Darknet weights header"),
    (struct.pack("<iii", 0, 2, 0) + b"\0" * 4, "shorter than its 20-byte header"),
    (b"PK\x03\x04" + b"\0" * 40, "zip file"),
    (b"[net]\nwidth=416\nheight=416\n", "cfg (text) file"),
])
@pytest.mark.parametrize("copy", [False, True])
def test_unreadable_weights_raise_one_clear_weights_error(small, tmp_path, content, words,
                                                           copy):
    path = tmp_path / "bad.weights"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=words.replace("(", r"\(").replace(")", r"\)")) as info:
        WeightsReader(small, path, copy)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_folder_raise_weights_error(small, tmp_path):
    with pytest.raises(WeightsError, match="cannot read"):
        WeightsReader(small, tmp_path / "nope.weights")
    with pytest.raises(WeightsError, match="folder"):
        WeightsReader(small, tmp_path)


def test_shapes_unknown_after_a_cfg_error_stop_the_ledger_without_guessing(tmp_path):
    network = net_from_text(SMALL.replace("[maxpool]", "[maxpooll]"))
    path = tmp_path / "w.weights"
    path.write_bytes(WeightsHeader().pack() + b"\0" * (SPANS[5][2] - 20 + 8))
    records, ledger = read_weights(network, path)
    assert len(records) == 1 and records[0].status == "ok" and not ledger.complete
    assert ledger.expected_bytes == max(end for layer, _, _, end in SPANS if layer == 0)
    assert ledger.status in ("ok", "short", "long")
    (warning,) = ledger.diagnostics
    assert warning.severity == "warning" and warning.layer == 1 and "cannot be checked" in (
        warning.message)


def test_writer_names_a_tensor_it_has_no_values_for(small, tmp_path):
    tensors = random_weights(small)
    del tensors[(2, "weights")]
    with pytest.raises(WeightsError, match="layer 2 .* weights tensor"):
        write_weights(tmp_path / "x.weights", small, tensors)
    assert not (tmp_path / "x.weights").exists()
    assert list(tmp_path.iterdir()) == []  # the temp file is gone too


def test_writer_refuses_a_tensor_of_the_wrong_size(small):
    tensors = random_weights(small)
    tensors[(0, "scales")] = np.zeros(5, np.float32)
    with pytest.raises(WeightsError, match=r"layer 0 .* scales: expected 4 values"):
        b"".join(serialize_weights(small, tensors, WeightsHeader()))


class _TransposedMatrix(LayerType):
    """A stand-in for [connected]: biases[n], then an n x inputs matrix that files with a
    header version above 1000 store transposed."""

    name = "connected"

    def build(self, ctx):
        n = ctx.section.int("output", 1)
        inputs = int(np.prod(ctx.require_input()))
        return Built((n,), {"inputs": inputs},
                     [TensorSpec("biases", (n,)), TensorSpec("weights", (n, inputs))])

    def module(self, layer):
        return nn.Identity()

    def stored_to_natural(self, layer, name, values, transposed):
        if name == "weights" and transposed:
            return values.reshape(values.shape[::-1]).T
        return values

    def natural_to_stored(self, layer, name, values, transposed):
        return values.T.reshape(values.shape) if name == "weights" and transposed else values


def test_transposed_header_round_trips_and_warns_only_where_it_matters(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "connected", _TransposedMatrix())
    network = net_from_text("[net]\ninputs=3\n[connected]\noutput=2\n")
    natural = {(0, "biases"): np.array([1, 2], np.float32),
               (0, "weights"): np.array([[1, 2, 3], [4, 5, 6]], np.float32)}
    path = tmp_path / "t.weights"
    write_weights(path, network, natural, WeightsHeader(1001, 0, 0, 5))
    stored = np.frombuffer(path.read_bytes()[20 + 8:], "<f4")
    np.testing.assert_array_equal(stored, [1, 4, 2, 5, 3, 6])  # column-major on disk
    records, ledger = read_weights(network, path)
    (warning,) = ledger.diagnostics
    assert "transposed" in warning.message and ledger.status == "ok"
    kind = registry.layer_type("connected")
    weights = records[0].tensors[1]
    np.testing.assert_array_equal(
        kind.stored_to_natural(network.layers[0], "weights", weights.values, True),
        natural[(0, "weights")])
    again = tmp_path / "again.weights"
    write_weights(again, network, {(0, "biases"): records[0].tensors[0].values,
                                   (0, "weights"): natural[(0, "weights")]}, ledger.header)
    assert again.read_bytes() == path.read_bytes()


def test_transposed_header_on_a_conv_only_model_says_nothing(small, tmp_path):
    path = tmp_path / "t.weights"
    write_random_weights(small, path, header=WeightsHeader(1001, 0, 0, 0))
    _, ledger = read_weights(small, path)
    assert ledger.diagnostics == [] and ledger.status == "ok"


def _heads_cfg(classes: int) -> str:
    from tests.core.test_cli import CFG

    return CFG.replace("classes=1", f"classes={classes}").replace(
        "filters=18", f"filters={(classes + 5) * 3}")


def test_no_classes_hint_when_no_class_count_fits(small, small_file, tmp_path):
    path = tmp_path / "w.weights"
    write_random_weights(net_from_text(_heads_cfg(3)), path)
    path.write_bytes(path.read_bytes() + b"\0" * 4)
    _, ledger = read_weights(net_from_text(_heads_cfg(1)), path)
    assert "classes=" not in ledger.diagnostics[0].message
    headless = tmp_path / "small.weights"
    headless.write_bytes(small_file[2] + b"\0" * 16)
    _, ledger = read_weights(small, headless)  # no detection heads at all
    assert "bytes left over" in ledger.diagnostics[0].message
    assert "classes=" not in ledger.diagnostics[0].message


@pytest.mark.parametrize("cut", [FULL_BYTES + 12, FULL_BYTES, SPANS[5][2] + 4, 20])
def test_the_ledger_alone_reads_no_tensor_and_says_what_a_full_read_says(small, small_file,
                                                                        tmp_path, cut):
    """`values=False` (a command's weights warnings after the model ran): the same ledger
    from the header and the file's size, without reading the file again."""
    data = small_file[2]
    path = tmp_path / "w.weights"
    path.write_bytes(data[:cut] if cut <= len(data) else data + b"\0" * (cut - len(data)))
    records, full = read_weights(small, path)
    reader = WeightsReader(small, path, values=False)
    alone = reader.read_all()
    assert reader.ledger == full
    assert [(t.name, t.status) for r in alone for t in r.tensors] == \
        [(t.name, t.status) for r in records for t in r.tensors]
    assert all(t.values is None for r in alone for t in r.tensors)
    assert reader.ledger.warnings == [d for d in full.diagnostics if d.severity == "warning"]
