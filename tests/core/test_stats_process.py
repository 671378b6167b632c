"""Tensor stats measured in a child process (the app's stream, issue 15): the same numbers
as measured here, a child reused after a clean stream, a stream that measures for
itself whatever a dead, early-stopping or garbling child did not send, and a protocol
(JSON headers, raw array bytes) that never unpickles or evaluates what it reads."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import struct
import subprocess
import sys

import numpy as np
import pytest

from darknet_inspector.core.jobs import run_job, stream
from darknet_inspector.core.jobs.stream import StreamUpdate, stats_plan, stream_weights
from darknet_inspector.core.stats_process import (
    ProtocolError,
    StatsChild,
    decode_stats,
    encode_stats,
    measure,
    parse_request,
    receive,
    send,
    serve,
)
from darknet_inspector.core.tensor_stats import tensor_stats
from darknet_inspector.core.weights import FLOAT, WeightsReader


@pytest.fixture
def model(flagged_model):
    return flagged_model


def stats_of(network, path, child=None) -> dict:
    found: dict = {}

    def keep(item):
        if isinstance(item, StreamUpdate):
            found.update({(item.record.index, n): s for n, s in item.stats.items()})

    run_job(stream_weights(network, path, child=child), keep)
    return found


def same(a, b) -> bool:
    return (a.count, a.minimum, a.maximum, a.mean, a.std, a.zeros, a.flags) == \
        (b.count, b.minimum, b.maximum, b.mean, b.std, b.zeros, b.flags) and \
        np.array_equal(a.counts, b.counts) and np.array_equal(a.edges, b.edges)


def test_a_child_measures_what_the_stream_would_measure_itself(model, monkeypatch):
    network, path = model
    here = stats_of(network, path)
    measured_here: list = []
    monkeypatch.setattr(stream, "tensor_stats", lambda *a: measured_here.append(a))
    there = stats_of(network, path, StatsChild())
    assert measured_here == []  # all of it in the child
    assert here.keys() == there.keys() and len(here) == 7
    assert all(same(here[key], there[key]) for key in here)
    assert there[(1, "weights")].flags == ["dead_filters"]


def test_a_child_is_reused_after_a_clean_stream_and_closed_after_a_cancel(model):
    network, path = model
    StatsChild.close_spare()
    child = StatsChild()
    stats_of(network, path, child)
    assert StatsChild.take() is child and child.alive
    stream = stream_weights(network, path, child=child)
    next(stream), next(stream)
    stream.close()  # the app's Cancel
    assert not child.alive


def test_a_dead_child_leaves_the_stream_to_measure_itself(model):
    network, path = model
    child = StatsChild()
    child._process.kill()
    child._process.wait()
    there = stats_of(network, path, child)
    assert there.keys() == stats_of(network, path).keys()


def test_the_child_stops_at_a_tensor_the_file_no_longer_holds(model, tmp_path):
    network, path = model
    plan = stats_plan(network, WeightsReader(network, path))
    short = tmp_path / "short.weights"
    data = open(path, "rb").read()
    short.write_bytes(data[:plan[1][1][0][1] + 8])  # cut inside layer 1's first tensor
    assert [layer for layer, _ in measure(str(short), FLOAT.str, plan)] == [0]


def test_the_child_imports_neither_torch_nor_qt():
    code = ("import sys, darknet_inspector.core.stats_process; "
            "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


# -- the protocol: JSON headers and raw array bytes, nothing unpickled -------------------

def message(header: dict, arrays=()) -> io.BytesIO:
    buffer = io.BytesIO()
    send(buffer, header, arrays)
    buffer.seek(0)
    return buffer


def test_stats_cross_the_pipe_exactly_nan_and_none_included():
    weights = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) - 7.25
    biases = tensor_stats("biases", np.array([np.inf, 3.0, np.nan], np.float32))
    original = {"weights": tensor_stats("weights", weights),
                "biases": dataclasses.replace(biases, mean=math.nan, maximum=math.inf)}
    assert original["biases"].filter_norms is None
    assert original["weights"].filter_norms is not None
    encoded, arrays = encode_stats(original)
    header, received = receive(message({"layer": 4, "stats": encoded}, arrays))
    back = decode_stats(header["stats"], received)
    assert header["layer"] == 4 and back.keys() == original.keys()
    for name, stats in original.items():
        for field in dataclasses.fields(stats):
            a, b = getattr(stats, field.name), getattr(back[name], field.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
            else:
                assert a == b or (math.isnan(a) and math.isnan(b)), field.name
        assert back[name].flags == stats.flags


def test_a_request_crosses_the_pipe_as_a_checked_plan():
    plan = [(0, [("biases", 20, (4,)), ("weights", 36, (4, 3, 3, 3))])]
    child_side = io.BytesIO()
    send(child_side, {"path": "m.weights", "dtype": "<f4",
                      "plan": [[0, [["biases", 20, [4]], ["weights", 36, [4, 3, 3, 3]]]]]})
    child_side.seek(0)
    assert parse_request(receive(child_side)[0]) == ("m.weights", "<f4", plan)


@pytest.mark.parametrize("raw", [
    b"\x80\x04\x95" + b"\x00" * 8,  # a pickle's opening bytes where the length goes
    struct.pack("<Q", 5) + b"cos(1",  # not JSON
    struct.pack("<Q", 2) + b"[]",  # not an object
    struct.pack("<Q", 1 << 40),  # an absurd header size
])
def test_what_is_not_a_message_is_refused_without_being_evaluated(raw):
    with pytest.raises((ProtocolError, EOFError)):
        receive(io.BytesIO(raw))


@pytest.mark.parametrize("entry", [["|O", [1]], ["<f4", [-1]], ["<f4", "3"], ["<f4"]])
def test_an_array_of_objects_or_a_bad_shape_is_refused(entry):
    data = json.dumps({"arrays": [entry]}).encode()
    with pytest.raises(ProtocolError):
        receive(io.BytesIO(struct.pack("<Q", len(data)) + data + b"\x00" * 64))


@pytest.mark.parametrize("stats", [
    {"w": {"count": 1}},  # fields missing
    {"w": {"__class__": "os.system"}},
    [1, 2],
])
def test_stats_other_than_tensor_stats_fields_are_refused(stats):
    with pytest.raises(ProtocolError):
        decode_stats(stats, [])


def test_the_child_ends_at_something_that_is_not_a_request():
    replies = io.BytesIO()
    serve(message({"path": 3}), replies)
    assert replies.getvalue() == b""  # no reply, no traceback: it has gone


def test_a_child_replying_garbage_leaves_the_stream_to_measure_itself(model):
    network, path = model
    child = StatsChild()
    child._process.kill()
    child._process.wait()
    child._process.stdout = io.BytesIO(struct.pack("<Q", 4) + b"nope")
    child._process.stdin = io.BytesIO()
    there = stats_of(network, path, child)
    assert there.keys() == stats_of(network, path).keys()
