"""`diagnose`: form the hypotheses, test each by applying its fix in memory, rank them."""

from __future__ import annotations

import os

from darknet_inspector.core.diagnosis import classes, file_end, structure, zoo
from darknet_inspector.core.diagnosis.context import make_context
from darknet_inspector.core.diagnosis.edits import edited_network
from darknet_inspector.core.diagnosis.findings import Finding, ranked
from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import FileSlices, parse_header


def diagnose(network: Network, weights_path: str | os.PathLike) -> list[Finding]:
    """Why `network` and the weights file disagree, most likely cause first; [] for a
    pair that matches. Reads the header and, where evidence is needed, a few floats."""
    path = os.fspath(weights_path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return []
        data = FileSlices(handle, path, size)  # no memory map: a shrinking file is no SIGBUS
        try:
            header = parse_header(data[:20], path)
            return diagnose_buffer(network, data, header.size, size)
        except WeightsError:
            return []


def diagnose_buffer(network: Network, data, header_bytes: int, file_bytes: int
                    ) -> list[Finding]:
    findings, head_edits = classes.head_mismatches(network)
    base = edited_network(network, head_edits) if head_edits else network
    if base is None:
        return ranked(findings)
    ctx = make_context(base, data, header_bytes, file_bytes)
    if not base.complete:
        return ranked(findings + structure.search_structure(ctx))
    if ctx.missing_bytes == 0 and ctx.alignment.healthy:
        for finding in findings:
            finding.verified = True
        return ranked(findings)
    tested = [found for found in (file_end.seen_written_as_uint32(ctx),
                                  classes.solve_classes(ctx)) if found]
    if not any(f.verified for f in tested):
        tested += structure.search_structure(ctx)
    if not any(f.verified for f in tested):
        tested += zoo.other_models(ctx)
    findings += tested
    if any(f.verified for f in tested):
        return ranked(findings)
    if ctx.alignment.healthy and ctx.missing_bytes > 0:
        findings.append(file_end.truncated(ctx))
    elif ctx.alignment.healthy and ctx.missing_bytes < 0:
        findings.append(file_end.trailing_bytes(ctx))
    else:
        unexplained = file_end.unexplained(ctx)
        if unexplained is not None:
            findings.append(unexplained)
    return ranked(findings)
