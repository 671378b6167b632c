"""Fuzzing: the cfg parser, the network builder, the model builder and the weights reader
on mutated zoo cfgs, random text and random or mutated bytes.

Properties: only the project's own error types (`InspectorError`) escape, their messages
are one line, each call ends within a time bound, and memory stays bounded (the address
space is capped while the engine runs, so a runaway allocation fails the test instead of
the machine). The normal suite runs a small example budget; run a longer one by hand:

    FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q tests/core/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darknet_inspector.core.cfg import decode_cfg_bytes, parse_cfg
from darknet_inspector.core.errors import Diagnostic, InspectorError
from darknet_inspector.core.memory import estimate_memory
from darknet_inspector.core.network import DARKNET_SECTION_NAMES, Network, build_network
from darknet_inspector.core.report import inspection_text, make_report, report_to_dict
from darknet_inspector.core.weights import (
    WeightsHeader,
    WeightsReader,
    random_weights,
    serialize_weights,
)
from tests.conftest import ZOO

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
TIME_BOUND_S = float(os.environ.get("FUZZ_TIME_BOUND_S", "10"))
ADDRESS_SPACE_HEADROOM = 3 * 1024**3
"""Extra virtual memory the engine may take during one call (far above what any
well-behaved call needs; a refused-too-late tensor of width=100000 needs hundreds of GB)."""
MESSAGE_LIMIT = 1500

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=timedelta(seconds=TIME_BOUND_S),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                derandomize="FUZZ_EXAMPLES" not in os.environ, database=None)


# ------------------------------------------------------------------ bounds on one call

def _virtual_memory_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Cap the address space (Linux) while the engine runs, and time the call."""
    resource = None
    if sys.platform.startswith("linux"):
        import resource
    current = _virtual_memory_bytes()
    saved = resource.getrlimit(resource.RLIMIT_AS) if resource and current else None
    if saved is not None:
        soft, hard = saved
        cap = current + ADDRESS_SPACE_HEADROOM
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    started = time.perf_counter()
    try:
        yield
    finally:
        if saved is not None:
            resource.setrlimit(resource.RLIMIT_AS, saved)
    assert time.perf_counter() - started < TIME_BOUND_S


def assert_own_error(exc: BaseException) -> None:
    """What escaped is ours, and reads as one line of reasonable length."""
    assert isinstance(exc, InspectorError), f"{type(exc).__name__} escaped: {exc}"
    message = str(exc)
    assert message and "\n" not in message
    assert len(message) < MESSAGE_LIMIT, message[:300]


def build_or_refuse(text: str, width: int | None = None, height: int | None = None
                    ) -> Network | None:
    """Parse and build; an InspectorError is a fine answer, anything else is a bug."""
    try:
        with bounded():
            network = build_network(parse_cfg(text, "fuzz.cfg"), width, height)
    except InspectorError as exc:
        assert_own_error(exc)
        return None
    check_network(network)
    return network


def check_network(network: Network) -> None:
    """What every built network must satisfy, however odd its cfg."""
    for problem in network.diagnostics:
        assert isinstance(problem, Diagnostic)
        assert problem.severity in ("error", "warning")
        assert "\n" not in problem.message
        assert len(problem.message) < MESSAGE_LIMIT, problem.message[:300]
    errors_at = {d.layer for d in network.errors}
    for layer in network.layers:
        if layer.known and min(layer.output_shape) < 1:
            assert layer.index in errors_at or network.errors, (
                f"layer {layer.index} [{layer.type}] has output {layer.output_shape} and no "
                "error says so")
        for spec in layer.weights:
            assert min(spec.shape, default=1) >= 0
    report = make_report(network)
    json.dumps(report_to_dict(report))
    inspection_text(report)
    estimate_memory(network)


# ------------------------------------------------------------------ seeds and mutations

SMALL_CFG = """[net]
width=32
height=32
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
filters=8
size=3
groups=2
pad=1
activation=mish

[shortcut]
from=-2
weights_type=per_channel
activation=linear

[route]
layers=-1,-3

[convolutional]
filters=18
size=1
activation=linear

[yolo]
mask=0,1
anchors=10,14, 23,27, 37,58
classes=4
num=3

[route]
layers=-3

[avgpool]

[connected]
output=5
activation=leaky

[softmax]
"""


def seed_cfgs() -> list[str]:
    texts = [SMALL_CFG]
    folder = ZOO / "cfg"
    if folder.is_dir():
        texts += [p.read_text(encoding="utf-8", errors="replace")
                  for p in sorted(folder.glob("*.cfg"))]
    return texts


SEEDS = seed_cfgs()
KEYS = ["filters", "size", "stride", "pad", "padding", "groups", "layers", "from", "mask",
        "num", "classes", "anchors", "width", "height", "channels", "batch_normalize",
        "dilation", "stride_x", "stride_y", "share_index", "weights_type", "group_id",
        "output", "coords", "side", "reverse", "activation", "tree", "map", "inputs",
        "batch", "steps", "hidden", "scale_x_y", "new_coords", "antialiasing", "bottleneck"]
VALUES = ["0", "-1", "1", "2", "3", "7", "-2147483648", "2147483647", "2147483648", "1e308",
          "nan", "inf", "-inf", "", "abc", "1,2,", ",", "-", "1000000000", "100000", "0.5",
          "1e-30", "9" * 5000, "\u00e9", "0x10", "-1,-2,-3", "1,-100", "99999,-99999",
          "leaky", "logistic", "none", "/etc/passwd", "../../x.tree"]
OPS = ["value", "key", "delete", "duplicate", "swap", "section", "truncate", "garbage"]

values = st.one_of(st.sampled_from(VALUES), st.integers(-2**40, 2**40).map(str),
                   st.text(max_size=20))
mutation = st.tuples(st.sampled_from(OPS), st.integers(0, 2**20), st.integers(0, 2**20),
                     values)


def mutate(text: str, edits: list[tuple[str, int, int, str]]) -> str:
    """Apply line-level edits: change a value or key, drop, copy or swap lines, insert a
    section header or garbage, cut the text short."""
    lines = text.split("\n")
    for op, a, b, value in edits:
        if not lines:
            break
        i, j = a % len(lines), b % len(lines)
        key, sep, _ = lines[i].partition("=")
        if op == "value" and sep:
            lines[i] = f"{key}={value}"
        elif op == "key" and sep:
            lines[i] = f"{KEYS[b % len(KEYS)]}={lines[i].partition('=')[2]}"
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "section":
            names = sorted(DARKNET_SECTION_NAMES) + [value or "x"]
            lines.insert(i, f"[{names[b % len(names)]}]")
        elif op == "truncate":
            lines = "\n".join(lines)[: a % (len(text) + 1)].split("\n")
        elif op == "garbage":
            lines.insert(i, value)
    return "\n".join(lines)


# ------------------------------------------------------------------ cfg parser and builder

@FUZZ
@given(seed=st.sampled_from(SEEDS), edits=st.lists(mutation, min_size=1, max_size=8))
def test_mutated_cfgs_build_or_fail_with_our_own_one_line_error(seed, edits):
    build_or_refuse(mutate(seed, edits))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from("[]=,#;-_ \t\r\n0123456789abcdefnrstuvwxyz."),
                    max_size=400))
def test_random_cfg_like_text_builds_or_fails_with_our_own_error(text):
    build_or_refuse(text)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_unicode_text_builds_or_fails_with_our_own_error(text):
    build_or_refuse(text)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_decode_and_build_or_fail_with_our_own_error(data):
    try:
        text = decode_cfg_bytes(data, "fuzz.cfg")
    except InspectorError as exc:
        assert_own_error(exc)
        return
    build_or_refuse(text)


@FUZZ
@given(seed=st.sampled_from(SEEDS), edits=st.lists(mutation, max_size=4),
       width=st.sampled_from([None, 1, 7, 32, 64]), height=st.sampled_from([None, 1, 13, 64]))
def test_size_overrides_build_or_fail_with_our_own_error(seed, edits, width, height):
    build_or_refuse(mutate(seed, edits), width, height)


# ------------------------------------------------------------------ model builder

SMALL_SEEDS = [SMALL_CFG] + [t for t in SEEDS[1:] if len(t) < 12_000]
MODEL_MEMORY_BUDGET = 64 * 1024**2


@settings(FUZZ, max_examples=max(5, FUZZ_EXAMPLES // 3))
@given(seed=st.sampled_from(SMALL_SEEDS), edits=st.lists(mutation, max_size=3))
def test_mutated_models_run_or_refuse_and_every_output_has_its_shape(seed, edits):
    """Where the builder says a network is runnable, the model runs at 64x64 and each
    layer's output has the shape the builder computed."""
    import torch

    from darknet_inspector.core.model import DarknetModel

    network = build_or_refuse(mutate(seed, edits), 64, 64)
    if network is None or network.errors or not network.runnable:
        return
    if estimate_memory(network).total_bytes > MODEL_MEMORY_BUDGET:
        return
    x = torch.rand((1, *network.input_shape))
    try:
        with bounded():
            model = DarknetModel(network).eval()
        started = time.perf_counter()  # torch's thread pools start here: no address cap
        with torch.no_grad():
            outputs = model(x, all_outputs=True)
        assert time.perf_counter() - started < TIME_BOUND_S
    except InspectorError as exc:
        assert_own_error(exc)
        return
    for layer, output in zip(network.layers, outputs):
        assert tuple(output.shape[1:]) == tuple(layer.output_shape), (
            f"layer {layer.index} [{layer.type}]")


# ------------------------------------------------------------------ weights reader

WEIGHTS_NETWORK = build_network(parse_cfg(SMALL_CFG, "fuzz.cfg"))
VALID_WEIGHTS = b"".join(serialize_weights(WEIGHTS_NETWORK, random_weights(WEIGHTS_NETWORK),
                                           WeightsHeader()))
WEIGHTS_OPS = ["truncate", "append", "overwrite", "header"]
weights_edit = st.tuples(st.sampled_from(WEIGHTS_OPS), st.integers(0, 2**31),
                         st.binary(max_size=64), st.integers(-2**31, 2**31 - 1))


def mutate_weights(data: bytes, edits) -> bytes:
    for op, where, blob, number in edits:
        at = where % (len(data) + 1)
        if op == "truncate":
            data = data[:at]
        elif op == "append":
            data = data + blob
        elif op == "overwrite":
            data = data[:at] + blob + data[at + len(blob):]
        elif op == "header" and len(data) >= 12:
            field = where % 3
            data = data[:4 * field] + struct.pack("<i", number) + data[4 * field + 4:]
    return data


def read_or_refuse(network: Network, data: bytes, copy: bool) -> None:
    """Read `data` as a weights file; check the ledger agrees with every record."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.weights")
        with open(path, "wb") as out:
            out.write(data)
        try:
            with bounded():
                reader = WeightsReader(network, path, copy=copy)
                records = reader.read_all()
        except InspectorError as exc:
            assert_own_error(exc)
            return
        ledger = reader.ledger
        assert ledger is not None and ledger.file_bytes == len(data)
        for record in records:
            for tensor in record.tensors:
                fits = tensor.offset + tensor.nbytes <= len(data)
                assert (tensor.status == "ok") == fits
                if tensor.status == "ok":
                    assert tensor.values is not None and tensor.values.size * 4 == tensor.nbytes
        expected_status = ("short" if len(data) < ledger.expected_bytes else
                           "long" if len(data) > ledger.expected_bytes else "ok")
        assert ledger.status == expected_status
        errors = any(d.severity == "error" for d in ledger.diagnostics)
        if ledger.complete:  # else the cfg's own errors hide the rest of the layout
            assert errors == (expected_status == "short")  # bytes left over: a warning
        else:
            assert network.errors
        for problem in ledger.diagnostics:
            assert "\n" not in problem.message
        del records, reader


@FUZZ
@given(edits=st.lists(weights_edit, min_size=1, max_size=4), copy=st.booleans())
def test_mutated_weights_read_or_fail_with_our_own_error(edits, copy):
    read_or_refuse(WEIGHTS_NETWORK, mutate_weights(VALID_WEIGHTS, edits), copy)


@FUZZ
@given(data=st.binary(max_size=2048), copy=st.booleans())
def test_random_bytes_as_weights_read_or_fail_with_our_own_error(data, copy):
    read_or_refuse(WEIGHTS_NETWORK, data, copy)


@settings(FUZZ, max_examples=max(5, FUZZ_EXAMPLES // 3))
@given(seed=st.sampled_from(SMALL_SEEDS), edits=st.lists(mutation, max_size=3),
       data=st.binary(max_size=4096))
def test_weights_against_mutated_cfgs_read_or_fail_with_our_own_error(seed, edits, data):
    network = build_or_refuse(mutate(seed, edits))
    if network is not None:
        read_or_refuse(network, np.int32([0, 2, 5, 0, 0]).tobytes() + data, False)


# ------------------------------------------------------------------ other readers

@FUZZ
@given(data=st.binary(max_size=1024))
def test_random_bytes_as_a_pt_file_fail_with_our_own_error(data):
    """... and quietly: a warning would print lines of its own beside the one message."""
    from darknet_inspector.core.pt_file import read_pt

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.pt")
        with open(path, "wb") as out:
            out.write(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with bounded():
                    read_pt(path)
            except InspectorError as exc:
                assert_own_error(exc)
        assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("protocol", [96, 182])
def test_a_pt_of_an_unknown_pickle_protocol_is_refused_without_warnings(protocol, tmp_path):
    """Found by fuzzing: torch warned about the protocol on stderr before refusing."""
    from darknet_inspector.core.pt_file import read_pt

    path = tmp_path / "odd.pt"
    path.write_bytes(bytes([0x80, protocol]) + b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InspectorError, match="not a loadable PyTorch file"):
            read_pt(path)
    assert caught == []


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=3),
                     st.dictionaries(st.text(max_size=8), inner, max_size=3))


anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(
        max_size=20), st.sampled_from([SMALL_CFG, "[net]\nwidth=1\n"])),
    _containers, max_leaves=8)
PT_FIELDS = ("cfg_text", "cfg_path", "width", "height", "header", "tensors", "fused")


def _valid_payload() -> dict:
    from darknet_inspector.core.model import DarknetModel
    from darknet_inspector.core.pt_file import model_payload

    return model_payload(DarknetModel(WEIGHTS_NETWORK))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(PT_FIELDS), anything, max_size=3),
       dropped=st.sets(st.sampled_from(PT_FIELDS), max_size=2),
       use=st.sampled_from(["load_pt", "weights_source"]))
def test_damaged_pt_payloads_fail_with_our_own_error(fields, dropped, use):
    """A .pt in our format with fields replaced by anything, or missing."""
    import torch

    from darknet_inspector.core import pt_file

    payload = {**_valid_payload(), **fields}
    for key in dropped:
        payload.pop(key, None)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.pt")
        torch.save(payload, path)
        try:
            with bounded():
                getattr(pt_file, use)(path)
        except InspectorError as exc:
            assert_own_error(exc)


def _jpeg_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = _jpeg_bytes()


@FUZZ
@given(edits=st.lists(weights_edit.filter(lambda e: e[0] != "header"), min_size=1,
                      max_size=3))
def test_mutated_images_load_or_fail_with_our_own_error(edits):
    from darknet_inspector.core.image import load_image

    data = mutate_weights(JPEG, edits)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.jpg")
        with open(path, "wb") as out:
            out.write(data)
        try:
            with bounded():
                image = load_image(path)
        except InspectorError as exc:
            assert_own_error(exc)
            return
        assert image.mode == "RGB"


def test_the_fuzz_budget_can_be_raised_by_hand():
    """The long run is one environment variable away (and the default stays small)."""
    assert FUZZ_EXAMPLES >= 1
    if "FUZZ_EXAMPLES" not in os.environ:
        assert FUZZ_EXAMPLES <= 50


@pytest.mark.parametrize("text", ["[net]\nwidth=100000\nheight=100000\nchannels=3\n"
                                  "[convolutional]\nfilters=16\nsize=3\n"])
def test_bounded_catches_a_runaway_allocation(text):
    """The address-space cap really bites: allocating past it fails inside `bounded`."""
    if not sys.platform.startswith("linux") or _virtual_memory_bytes() is None:
        pytest.skip("address-space caps are Linux-only here")
    network = build_or_refuse(text)
    assert network is not None
    with pytest.raises(MemoryError), bounded():
        bytearray(ADDRESS_SPACE_HEADROOM + 1024**3)


def test_layers_after_a_connected_layer_see_its_flat_output_as_n_by_1_by_1():
    """Found by fuzzing (a [maxpool] after a [connected]): Darknet reads a flat output as
    C=N, H=W=1, so the pool keeps each value and the upsample repeats it 2x2."""
    import torch

    from darknet_inspector.core.model import DarknetModel
    from tests.helpers import net_from_text

    network = net_from_text("[net]\nwidth=4\nheight=4\nchannels=1\n\n[connected]\noutput=3\n"
                            "activation=linear\n\n[maxpool]\nsize=2\nstride=1\n\n"
                            "[upsample]\nstride=2\n")
    assert [layer.output_shape for layer in network.layers] == [(3,), (3, 1, 1), (3, 2, 2)]
    model = DarknetModel(network).eval()
    with torch.no_grad():
        model.layers[0].biases.copy_(torch.tensor([1.0, -2.0, 3.0]))
        model.layers[0].weights.zero_()
        connected, pooled, upsampled = model(torch.rand(1, 1, 4, 4), all_outputs=True)
    assert connected.flatten().tolist() == [1.0, -2.0, 3.0]
    assert pooled.flatten().tolist() == [1.0, -2.0, 3.0]
    assert upsampled[0, :, 1, 1].tolist() == [1.0, -2.0, 3.0]
    assert torch.equal(upsampled, pooled.expand(1, 3, 2, 2))
