"""A weights file read on a thread (`convert` and `detect` read it while torch imports):
the same records and ledger as a plain read, errors handed to whoever asks for the
result, and a read nobody wants any more stopped with its file closed."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from darknet_inspector.core import weights as weights_module
from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.network import load_network
from darknet_inspector.core.read_ahead import ReadAhead
from darknet_inspector.core.weights import read_weights


def test_the_read_gives_what_a_plain_read_gives(base_model):
    cfg, weights = base_model
    network = load_network(cfg)
    records, ledger = read_weights(network, weights)
    with ReadAhead(network, weights) as ahead:
        read = ahead.result()
    assert read.ledger == ledger and read.header == ledger.header
    assert [r.index for r in read.records] == [r.index for r in records]
    for mine, theirs in zip(read.records, records):
        for a, b in zip(mine.tensors, theirs.tensors):
            np.testing.assert_array_equal(a.values, b.values)
            assert a.values is None or a.values.flags.owndata  # a model may adopt it


def test_an_unreadable_file_fails_at_once_on_the_callers_thread(base_model, tmp_path):
    network = load_network(base_model[0])
    before = threading.active_count()
    with pytest.raises(WeightsError, match="no such file|cannot read"):
        ReadAhead(network, tmp_path / "missing.weights")
    assert threading.active_count() == before  # no thread was started


def test_an_error_while_reading_is_raised_by_result(base_model, monkeypatch):
    network = load_network(base_model[0])

    def changed(self, spec, offset):
        raise WeightsError("the file changed while it was read")

    monkeypatch.setattr(weights_module.WeightsReader, "_values", changed)
    ahead = ReadAhead(network, base_model[1])
    with pytest.raises(WeightsError, match="changed while"):
        ahead.result()
    assert not ahead.running and ahead._reader._file.closed


def test_leaving_the_block_on_an_error_stops_the_read_and_closes_the_file(base_model,
                                                                         monkeypatch):
    """Ctrl+C or a usage error on the caller's thread while the read runs: the thread
    stops after the layer it is on, the file is closed, nothing is kept."""
    network = load_network(base_model[0])
    reading = threading.Event()
    stopping: list[threading.Event] = []
    real = weights_module.WeightsReader._values
    read_tensors = []

    def slow(self, spec, offset):  # the first tensor takes until the read is stopped
        reading.set()
        deadline = time.monotonic() + 10
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.001)
        assert stopping[0].wait(10)
        read_tensors.append(spec.name)
        return real(self, spec, offset)

    monkeypatch.setattr(weights_module.WeightsReader, "_values", slow)
    with pytest.raises(KeyboardInterrupt), ReadAhead(network, base_model[1]) as ahead:
        stopping.append(ahead._stop)
        assert reading.wait(10)
        raise KeyboardInterrupt
    assert not ahead.running and ahead._reader._file.closed
    assert len(read_tensors) == len(network.layers[0].weights)  # layer 0, then it stopped
    with pytest.raises(RuntimeError, match="closed before"):
        ahead.result()


def test_reading_ahead_and_choosing_the_format_import_no_torch():
    """Both run before torch is imported (that is their point): neither may reach it."""
    from tests.test_architecture import PACKAGE, TORCH, forbidden_paths, import_graph

    starts = (f"{PACKAGE}.read_ahead", f"{PACKAGE}.format_choice")
    assert forbidden_paths(import_graph(), TORCH, starts) == []


def test_an_image_decoded_ahead_is_what_load_image_gives(tmp_path):
    from PIL import Image

    from darknet_inspector.core.image import load_image
    from darknet_inspector.core.read_ahead import ImageAhead

    path = tmp_path / "a.png"
    Image.new("RGB", (7, 5), (10, 200, 30)).save(path)
    with ImageAhead(path) as picture:
        decoded = picture.result()
    assert decoded.size == (7, 5)
    assert np.array_equal(np.asarray(decoded), np.asarray(load_image(path)))


def test_a_bad_image_decoded_ahead_raises_its_one_line_error_from_result(tmp_path):
    from darknet_inspector.core.errors import UsageError
    from darknet_inspector.core.read_ahead import ImageAhead

    path = tmp_path / "not.jpg"
    path.write_bytes(b"no image here")
    picture = ImageAhead(path)
    with pytest.raises(UsageError) as caught:
        picture.result()
    assert "\n" not in str(caught.value) and "not.jpg" in str(caught.value)
    assert not picture.running
