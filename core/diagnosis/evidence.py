"""Statistical evidence: does a layer's batch-norm triple, read at a given alignment,
look like batch-norm statistics? Darknet's rolling variance is a running mean of
variances, so it is never negative; floats read at the wrong place (conv weights,
biases) are negative about half the time, or huge. Only the few floats of each
triple are read, straight from the memory map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from darknet_inspector.core.diagnosis.layout import LayerLayout

FLOAT = np.dtype("<f4")
HUGE_VARIANCE = 1e6
HUGE_MEAN = 1e6
HUGE_SCALE = 1e3


@dataclass(frozen=True)
class BnReading:
    """What a layer's scales / rolling_mean / rolling_variance look like when read at
    one alignment."""

    layer: int
    channels: int
    negative: int  # rolling_variance < 0
    nonfinite: int  # NaN or Inf anywhere in the triple
    huge: int  # variance or mean > 1e6, |scale| > 1e3
    variance_min: float
    variance_max: float

    @property
    def healthy(self) -> bool:
        return not (self.negative or self.nonfinite or self.huge)

    def describe(self) -> str:
        """'rolling_variance reads 47 of 96 negative (min -0.31, max 12.5)'."""
        parts = []
        if self.negative:
            parts.append(f"{self.negative} of {self.channels} negative")
        if self.nonfinite:
            parts.append(f"{self.nonfinite} NaN/Inf")
        if self.huge:
            parts.append(f"{self.huge} implausibly large")
        what = ", ".join(parts) or "plausible"
        return (f"its batch-norm statistics read {what} (rolling_variance min "
                f"{self.variance_min:.3g}, max {self.variance_max:.3g})")


def read_bn(data, offset: int, channels: int, layer: int) -> BnReading:
    """The triple of `channels` floats each starting at byte `offset` of `data`."""
    piece = data[offset: offset + 3 * channels * FLOAT.itemsize]  # a map or FileSlices
    triple = np.frombuffer(piece, FLOAT).reshape(3, channels)
    scales, mean, variance = triple
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(triple)
        huge = int(np.count_nonzero((variance > HUGE_VARIANCE) | (np.abs(mean) > HUGE_MEAN)
                                    | (np.abs(scales) > HUGE_SCALE)))
        negative = int(np.count_nonzero(variance < 0))
    shown = variance[np.isfinite(variance)]
    return BnReading(layer, channels, negative, int(triple.size - np.count_nonzero(finite)),
                     huge, float(shown.min()) if shown.size else float("nan"),
                     float(shown.max()) if shown.size else float("nan"))


@dataclass(frozen=True)
class Alignment:
    """The evidence for one layout read at one header size."""

    checked: int  # triples read (those the file holds entirely)
    broken: BnReading | None  # the first unhealthy triple
    last_healthy: int | None  # index of the last healthy BN layer before it

    @property
    def healthy(self) -> bool:
        return self.broken is None


def check_alignment(layout: Sequence[LayerLayout], data, header_bytes: int, file_bytes: int,
                    first: int = 0) -> Alignment:
    """Read every batch-norm triple of `layout` (from position `first`) that lies inside
    the file, in order, and stop at the first one that is not healthy."""
    offset = header_bytes + 4 * sum(entry.floats for entry in layout[:first])
    checked = 0
    last = None
    for entry in layout[first:]:
        if entry.bn:
            at = offset + 4 * entry.bn_at
            if at + 12 * entry.bn > file_bytes:
                break
            reading = read_bn(data, at, entry.bn, entry.index)
            checked += 1
            if not reading.healthy:
                return Alignment(checked, reading, last)
            last = entry.index
        offset += 4 * entry.floats
        if offset >= file_bytes:
            break
    return Alignment(checked, None, last)
