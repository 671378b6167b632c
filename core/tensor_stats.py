"""Summary numbers and health flags for one tensor, computed on the numpy view without
copying it whole. Plain numpy (no torch, no Qt): `inspect` and the app's weights stream
both call `tensor_stats`, so they raise the same flags.

The flags are a stable vocabulary, one word each (`HEALTH_FLAGS`); `inspect --json`
prints them and the app shows `TensorStats.messages`, the same flags as sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

HISTOGRAM_BINS = 64
HISTOGRAM_SAMPLE = 1 << 14  # 256 values per bin on average: the shape, at a quarter of the cost
DEAD_FILTER_NORM = 1e-6
TINY_VARIANCE = 1e-6
ZERO_CHUNK = 1 << 18
SUM_CHUNK = 1 << 16
SHIFT_SAMPLE = 1 << 10

HEALTH_FLAGS = ("nan", "inf", "negative_variance", "zero_variance", "dead_filters",
                "all_zero")
"""Every flag a tensor can raise, in the order they are listed:
`nan` some values are NaN; `inf` some are +-infinity; `negative_variance` a batch-norm
`rolling_variance` below 0; `zero_variance` one in [0, 1e-6), which blows up the
normalised output; `dead_filters` an output filter of a 4-D weight tensor with L2 norm
below 1e-6; `all_zero` every value of the tensor is 0."""


@dataclass
class TensorStats:
    count: int
    minimum: float
    maximum: float
    mean: float
    std: float
    zeros: int
    nans: int
    infs: int
    counts: np.ndarray  # histogram counts
    edges: np.ndarray  # histogram bin edges (len(counts) + 1)
    sampled: int  # how many values the histogram was computed from
    filter_norms: np.ndarray | None = None  # L2 norm per output filter (4-D tensors)
    negative_variances: int = 0  # batch-norm rolling_variance only
    tiny_variances: int = 0  # in [0, TINY_VARIANCE), rolling_variance only

    @property
    def zero_share(self) -> float:
        return self.zeros / self.count if self.count else 0.0

    @property
    def dead_filters(self) -> int:
        if self.filter_norms is None:
            return 0
        return int(np.count_nonzero(self.filter_norms < DEAD_FILTER_NORM))

    @cached_property
    def flags(self) -> list[str]:
        """The health flags this tensor raises (words of `HEALTH_FLAGS`, in its order)."""
        raised = {"nan": self.nans, "inf": self.infs,
                  "negative_variance": self.negative_variances,
                  "zero_variance": self.tiny_variances, "dead_filters": self.dead_filters,
                  "all_zero": self.count and self.zeros == self.count}
        return [flag for flag in HEALTH_FLAGS if raised[flag]]

    @property
    def messages(self) -> list[str]:
        """The flags as sentences with their counts, for people."""
        return [flag_message(flag, self) for flag in self.flags]


def flag_message(flag: str, stats: TensorStats) -> str:
    return {
        "nan": lambda: f"{stats.nans:,} NaN value(s)",
        "inf": lambda: f"{stats.infs:,} infinite value(s)",
        "negative_variance": lambda: f"{stats.negative_variances} negative batch-norm "
                                     "variance(s)",
        "zero_variance": lambda: f"{stats.tiny_variances} batch-norm variance(s) near zero "
                                 f"(< {TINY_VARIANCE:g})",
        "dead_filters": lambda: f"{stats.dead_filters} dead filter(s) (norm < "
                                f"{DEAD_FILTER_NORM:g})",
        "all_zero": lambda: "all values are zero",
    }[flag]()


def strided_sample(flat: np.ndarray, limit: int = HISTOGRAM_SAMPLE) -> np.ndarray:
    """At most `limit` evenly spaced values: a strided view, not a copy."""
    step = max(1, math.ceil(flat.size / limit))
    return flat[::step]


def _finite_range(flat: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def histogram(flat: np.ndarray, lo: float, hi: float, bins: int = HISTOGRAM_BINS
              ) -> tuple[np.ndarray, np.ndarray, int]:
    """Histogram of a strided subsample over [lo, hi], non-finite values left out."""
    sample = strided_sample(flat)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        sample = sample[np.isfinite(sample)]
        lo, hi = _finite_range(flat, lo, hi)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return (*uniform_histogram(sample, lo, hi, bins), int(sample.size))


def uniform_histogram(sample: np.ndarray, lo: float, hi: float, bins: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """`np.histogram(sample, bins, range=(lo, hi))`, same counts and edges, without its
    general-purpose overhead (checks, block loop, weights): each value's bin from
    (x - lo) * bins / (hi - lo), moved by one where float rounding put it across an
    edge (the correction numpy makes), the last bin closed on the right."""
    edges = np.linspace(lo, hi, bins + 1, dtype=np.result_type(lo, hi, sample))
    x = sample.astype(edges.dtype, copy=False)
    x = x[(x >= lo) & (x <= hi)]
    index = ((x - lo) / (hi - lo) * bins).astype(np.intp)
    index[index == bins] -= 1
    index[x < edges[index]] -= 1
    index[(x >= edges[index + 1]) & (index != bins - 1)] += 1
    return np.bincount(index, minlength=bins), edges


def count_zeros(flat: np.ndarray, chunk: int = ZERO_CHUNK) -> int:
    """Zeros, counted in chunks: `np.count_nonzero` holds the GIL, and the UI thread must
    not wait long for it while a worker streams a big file."""
    nonzero = 0
    for start in range(0, flat.size, chunk):
        nonzero += int(np.count_nonzero(flat[start:start + chunk]))
    return int(flat.size - nonzero)


def chunked_moments(flat: np.ndarray, shift: float, chunk: int = SUM_CHUNK
                    ) -> tuple[float, float, int]:
    """Sum and sum of squares of (x - shift), and the zero count, of a finite tensor in
    one sweep of cache-sized chunks (instead of `mean`, `std` and `count_nonzero` each
    walking the whole tensor, `std` twice through a float64 copy). Each chunk is summed
    pairwise in float32 (numpy's `add.reduce`), the chunks in float64; with `shift` near
    the mean, E[d^2] - E[d]^2 has no cancellation to lose digits to. Short calls: a UI
    thread never waits long for the GIL."""
    total = squares = 0.0
    zeros = 0
    k = np.float32(shift)
    size = min(chunk, flat.size)
    d, dd = np.empty(size, np.float32), np.empty(size, np.float32)
    is_zero = np.empty(size, np.bool_)
    for start in range(0, flat.size, chunk):
        part = flat[start:start + chunk]
        n = part.size
        np.subtract(part, k, out=d[:n])
        np.multiply(d[:n], d[:n], out=dd[:n])
        total += float(np.add.reduce(d[:n]))
        squares += float(np.add.reduce(dd[:n]))
        np.equal(part, 0, out=is_zero[:n])  # then counting booleans: 3x faster than
        zeros += int(np.count_nonzero(is_zero[:n]))  # count_nonzero on floats
    return total, squares, zeros


def filter_norms(values: np.ndarray) -> np.ndarray | None:
    """L2 norm of each output filter of a 4-D weight tensor (first axis = filters),
    each filter's squares summed in float32 (a dead filter's norm is ~0 either way)."""
    if values.ndim != 4 or values.shape[0] == 0:
        return None
    rows = values.reshape(values.shape[0], -1)
    return np.sqrt(np.einsum("ij,ij->i", rows, rows).astype(np.float64))


def variance_counts(name: str, values: np.ndarray) -> tuple[int, int]:
    """(negative, near zero) batch-norm variances: they must be positive, and near zero
    blows up the normalised output. (0, 0) for any other tensor."""
    if not name.endswith("rolling_variance"):
        return 0, 0
    negative = int(np.count_nonzero(values < 0))
    tiny = int(np.count_nonzero((values >= 0) & (values < TINY_VARIANCE)))
    return negative, tiny


def tensor_stats(name: str, values: np.ndarray) -> TensorStats:
    """Exact min/max/mean/std/zero/NaN/Inf counts, histogram on a subsample, and what
    the flags need (filter norms, batch-norm variance counts)."""
    flat = values.reshape(-1)
    count = int(flat.size)
    if count == 0:
        return TensorStats(0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, np.zeros(0), np.zeros(1), 0)
    lo, hi = float(flat.min()), float(flat.max())
    nans = infs = 0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        nans = int(np.count_nonzero(np.isnan(flat)))
        infs = int(np.count_nonzero(np.isinf(flat)))
    norms = filter_norms(values)
    if nans or infs:
        finite = flat[np.isfinite(flat)]
        mean = float(finite.mean(dtype=np.float64)) if finite.size else math.nan
        std = float(finite.std(dtype=np.float64)) if finite.size else math.nan
        lo, hi = _finite_range(flat, lo, hi)
        zeros = count_zeros(flat)
    else:
        shift = float(np.float32(strided_sample(flat, SHIFT_SAMPLE).mean(dtype=np.float64)))
        total, squares, zeros = chunked_moments(flat, shift)
        centred = total / count
        mean = shift + centred
        std = math.sqrt(max(squares / count - centred * centred, 0.0))
    counts, edges, sampled = histogram(flat, lo, hi)
    negative, tiny = variance_counts(name, values)
    return TensorStats(count, lo, hi, mean, std, zeros, nans, infs, counts, edges, sampled,
                       norms, negative, tiny)
