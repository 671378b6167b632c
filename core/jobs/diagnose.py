"""Diagnose a cfg/weights pair: why they disagree, most likely cause first
(core.diagnosis). The app runs it on a worker once the weights stream has ended;
`inspect` calls the engine directly."""

from __future__ import annotations

import os
from collections.abc import Generator

from darknet_inspector.core.diagnosis import Finding
from darknet_inspector.core.diagnosis.engine import diagnose, diagnose_buffer
from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import parse_header


def diagnose_weights(network: Network, path: str, copy: bool = True
                     ) -> Generator[str, None, list[Finding]]:
    """The findings for `network` and the weights at `path` ([] for a matching pair).
    `copy=True` (the app): the file is read into memory instead of mapped, so a file
    rewritten meanwhile (Darknet saving *_last.weights) cannot crash the process."""
    yield f"diagnosing {os.path.basename(path)}"
    if not copy:
        return diagnose(network, path)
    with open(path, "rb") as handle:
        data = handle.read()
    if not data:
        return []
    try:
        header = parse_header(data[:20], path)
    except WeightsError:
        return []
    return diagnose_buffer(network, data, header.size, len(data))
