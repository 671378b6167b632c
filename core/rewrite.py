"""Weights files rewritten, never in place: the first N layers (Darknet's `partial`)
and a new header (seen reset, another version)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.errors import WeightsError
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import (
    DEFAULT_VERSION,
    TRANSPOSED_TYPES,
    WeightsHeader,
    parse_header,
)


@dataclass(frozen=True)
class Written:
    path: str
    layers: int
    header: WeightsHeader
    bytes: int


def partial_header() -> WeightsHeader:
    """What `partial` (src/darknet.c) writes: it zeroes seen and cur_iteration, then
    `save_weights_upto` (src/parser.c) writes MAJOR.MINOR.PATCH_VERSION (0.2.5) and
    seen = cur_iteration * batch * subdivisions = 0 as a uint64."""
    return WeightsHeader(*DEFAULT_VERSION, seen=0)


def write_partial(network: Network, weights_path: str | os.PathLike,
                  output: str | os.PathLike, count: int) -> Written:
    """The first `count` layers' weights, byte for byte, behind `partial_header()`:
    `darknet partial CFG WEIGHTS OUT count` (layers 0..count-1, `i < net.n && i < cutoff`)."""
    if count < 0:
        raise WeightsError(f"the layer count must not be negative, got {count}")
    with open(weights_path, "rb") as handle:
        data = handle.read()
    header = parse_header(data[:20], os.fspath(weights_path))
    layers = network.layers[:count]
    unknown = next((layer for layer in layers if not layer.known), None)
    if unknown is not None:
        raise WeightsError(f"layer {unknown.index} (cfg line {unknown.line}) has cfg errors: "
                           "its size in the weights file is unknown")
    if header.transposed and any(layer.type in TRANSPOSED_TYPES and layer.weights
                                 for layer in layers):
        raise WeightsError("the header marks [connected] weights as transposed (version > "
                           "1000); Darknet would write them back untransposed, which this "
                           "command does not do")
    end = header.size + sum(layer.weight_bytes for layer in layers)
    if end > len(data):
        raise WeightsError(f"{weights_path}: holds {len(data):,} bytes, the first {count} "
                           f"layers need {end:,}")
    new = partial_header()
    with atomic_write(output) as out:
        out.write(new.pack())
        out.write(data[header.size:end])
    return Written(os.fspath(output), len(layers), new, new.size + end - header.size)


SEEN_FORMATS = {16: "<I", 20: "<Q"}


def read_header_as(data: bytes, path: str, header_bytes: int | None) -> WeightsHeader:
    """The header, with `seen` read as 4 (16-byte header) or 8 bytes (20) when told so
    rather than as the version says (a 0.2.x file written with a 4-byte seen)."""
    header = parse_header(data[:20], path)
    if header_bytes is None or header_bytes == header.size:
        return header
    (seen,) = struct.unpack_from(SEEN_FORMATS[header_bytes], data, 12)
    return WeightsHeader(header.major, header.minor, header.revision, seen)


def write_header(weights_path: str | os.PathLike, output: str | os.PathLike,
                 reset_seen: bool = False, version: tuple[int, int, int] | None = None,
                 header_bytes: int | None = None) -> Written:
    """A copy with `seen` reset and/or another version; `seen` is re-encoded in 4 or 8
    bytes as the new version requires (`load_weights_upto`: uint64 when
    major*10+minor >= 2). The body is copied unchanged."""
    path = os.fspath(weights_path)
    with open(path, "rb") as handle:
        data = handle.read()
    old = read_header_as(data, path, header_bytes)
    size = header_bytes or old.size
    major, minor, revision = version or (old.major, old.minor, old.revision)
    new = WeightsHeader(major, minor, revision, 0 if reset_seen else old.seen)
    if new.size == 16 and new.seen >= 2**32:
        raise WeightsError(f"seen={new.seen:,} does not fit the 4 bytes version "
                           f"{major}.{minor}.{revision} stores it in; add --reset-seen")
    with atomic_write(output) as out:
        out.write(new.pack())
        out.write(data[size:])
    return Written(os.fspath(output), 0, new, new.size + len(data) - size)
