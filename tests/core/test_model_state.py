"""The app's model state without Qt: what a stream leaves in it and what views ask."""

from __future__ import annotations

import numpy as np

from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.stream import StreamStart, StreamUpdate, stream_weights
from darknet_inspector.core.model_state import UNREAD, ModelState
from darknet_inspector.core.network import load_network
from darknet_inspector.core.weights import random_weights, write_weights
from tests.core.test_report import CFG


def test_a_stream_fills_the_state_and_a_new_stream_clears_it(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    network = load_network(str(cfg))
    tensors = random_weights(network, 0)
    tensors[(1, "weights")] = np.zeros_like(tensors[(1, "weights")])
    weights = tmp_path / "m.weights"
    write_weights(weights, network, tensors)
    state = ModelState()
    state.set_network(str(cfg), network)
    assert state.begin_stream(str(weights)) is False  # nothing shown before
    assert state.layer_status(0) == UNREAD

    def take(item):
        if isinstance(item, StreamStart):
            state.stream_sized(item)
        elif isinstance(item, StreamUpdate):
            state.apply(item)

    state.finish_stream(run_job(stream_weights(network, str(weights)), take))
    assert state.stream_state == "done" and state.ledger.status == "ok"
    assert [state.layer_status(i) for i in (0, 1)] == ["ok", "ok"]
    assert state.flagged == {1} and state.stats[(1, "weights")].flags == ["dead_filters",
                                                                          "all_zero"]
    assert state.tensor_record(0, "biases").offset == state.header_bytes
    assert state.errors() == [] and state.first_bad_layer() is None
    assert state.begin_stream(str(weights)) is True
    assert state.records == {} and state.flagged == set() and state.ledger is None
