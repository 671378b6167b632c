"""The weights stream: one update per layer with each present tensor's stats; `inspect`
reads the same stream to its end."""

from __future__ import annotations

from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.stream import (
    StreamStart,
    StreamUpdate,
    read_streamed,
    stream_weights,
)


def test_stream_sizes_itself_then_updates_each_layer_and_returns_the_ledger(flagged_model):
    network, path = flagged_model
    records: list = []
    result = run_job(stream_weights(network, path), records.append)
    assert isinstance(records[0], StreamStart) and records[0].layers == 2
    updates = [r for r in records if isinstance(r, StreamUpdate)]
    assert [u.record.index for u in updates] == [0, 1]
    assert updates[-1].bytes_done == records[0].total_bytes
    assert updates[0].stats["rolling_variance"].flags == ["negative_variance"]
    assert result.ledger.status == "ok"
    streamed = read_streamed(network, path)
    assert streamed.flags == {(u.record.index, name): stats.flags
                              for u in updates for name, stats in u.stats.items()}
    assert [r.index for r in streamed.records] == [0, 1]
