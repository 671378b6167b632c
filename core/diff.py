"""Two .weights files for the same cfg (e.g. before and after fine-tuning): which tensors
and layers changed, by how much, and a histogram of the differences.

Both files are streamed (memory-mapped), compared in their natural shapes (so a file with
transposed [connected] weights compares right against one without), never loaded whole.
Relative change of a tensor: ||B - A|| / ||A|| (L2 norms over all its values).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from darknet_inspector.core.errors import Diagnostic
from darknet_inspector.core.layers import layer_type
from darknet_inspector.core.network import Network
from darknet_inspector.core.weights import Ledger, TensorRecord, WeightsReader

DEFAULT_BINS = 41


@dataclass
class TensorDiff:
    """One tensor of the cfg in both files."""

    layer: int
    type: str
    line: int
    name: str
    shape: tuple[int, ...]
    present: bool = True
    changed_values: int = 0
    max_abs: float = 0.0
    mean_abs: float = 0.0
    rel_change: float = 0.0
    norm_a: float = 0.0

    @property
    def changed(self) -> bool:
        return self.changed_values > 0

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "type": self.type, "line": self.line, "name": self.name,
                "shape": list(self.shape), "present": self.present, "changed": self.changed,
                "changed_values": self.changed_values, "max_abs": self.max_abs,
                "mean_abs": self.mean_abs,
                "rel_change": None if math.isinf(self.rel_change) else self.rel_change}


@dataclass
class Histogram:
    """Counts of B - A over the values that differ; `edges` has one more entry."""

    edges: list[float]
    counts: list[int]
    unchanged: int = 0

    def to_dict(self) -> dict:
        return {"edges": self.edges, "counts": self.counts, "unchanged": self.unchanged}


@dataclass
class WeightsDiff:
    cfg: str
    a: Ledger
    b: Ledger
    tensors: list[TensorDiff]
    histogram: Histogram
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> list[TensorDiff]:
        return [t for t in self.tensors if t.changed]

    @property
    def changed_layers(self) -> list[int]:
        return sorted({t.layer for t in self.changed})

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def header_changes(self) -> dict[str, tuple[int, int]]:
        fields = ("major", "minor", "revision", "seen")
        return {f: (getattr(self.a.header, f), getattr(self.b.header, f)) for f in fields
                if getattr(self.a.header, f) != getattr(self.b.header, f)}

    def to_dict(self) -> dict:
        return {"cfg": self.cfg, "a": self.a.to_dict(), "b": self.b.to_dict(),
                "header_changes": {k: list(v) for k, v in self.header_changes().items()},
                "changed_layers": self.changed_layers,
                "tensors": [t.to_dict() for t in self.tensors],
                "histogram": self.histogram.to_dict(),
                "problems": [d.to_dict() for d in self.diagnostics]}


def _pairs(network: Network, a: str | os.PathLike, b: str | os.PathLike
           ) -> tuple[WeightsReader, WeightsReader, Iterator[tuple[TensorRecord, TensorRecord]]]:
    reader_a, reader_b = WeightsReader(network, a), WeightsReader(network, b)

    def pairs() -> Iterator[tuple[TensorRecord, TensorRecord]]:
        records_b = reader_b.records()
        for record_a in reader_a.records():
            yield from zip(record_a.tensors, next(records_b).tensors)
        for _ in records_b:  # run it to its end, where it writes its ledger
            pass

    return reader_a, reader_b, pairs()


def _natural(network: Network, tensor: TensorRecord, transposed: bool) -> np.ndarray:
    layer = network.layers[tensor.layer]
    kind = layer_type(layer.type)
    assert kind is not None and tensor.values is not None  # it was read: a known layer type
    return kind.stored_to_natural(layer, tensor.name, tensor.values, transposed)


def tensor_difference(network: Network, a: str | os.PathLike, b: str | os.PathLike,
                      layer: int, name: str) -> np.ndarray | None:
    """B - A for one tensor (natural shape, float32), None when either file lacks it."""
    reader_a, reader_b, pairs = _pairs(network, a, b)
    for ta, tb in pairs:
        if (ta.layer, ta.name) == (layer, name):
            if ta.values is None or tb.values is None:
                return None
            return (_natural(network, tb, reader_b.header.transposed)
                    - _natural(network, ta, reader_a.header.transposed))
    return None


def diff_weights(network: Network, a: str | os.PathLike, b: str | os.PathLike,
                 bins: int = DEFAULT_BINS) -> WeightsDiff:
    """Compare every tensor the cfg stores; a tensor missing from either file (a short
    file) is listed with present=False and the ledgers' problems are kept."""
    reader_a, reader_b, pairs = _pairs(network, a, b)
    tensors: list[TensorDiff] = []
    for ta, tb in pairs:
        layer = network.layers[ta.layer]
        row = TensorDiff(layer.index, layer.type, layer.line, ta.name, tuple(ta.shape))
        tensors.append(row)
        if ta.values is None or tb.values is None:
            row.present = False
            continue
        va = _natural(network, ta, reader_a.header.transposed)
        vb = _natural(network, tb, reader_b.header.transposed)
        _measure(row, va, vb)
    assert reader_a.ledger is not None and reader_b.ledger is not None
    histogram = _histogram(network, a, b, tensors, bins)
    diagnostics = [_labelled(d, "A") for d in reader_a.ledger.diagnostics]
    diagnostics += [_labelled(d, "B") for d in reader_b.ledger.diagnostics]
    return WeightsDiff(network.path, reader_a.ledger, reader_b.ledger, tensors, histogram,
                       diagnostics)


def _measure(row: TensorDiff, va: np.ndarray, vb: np.ndarray) -> None:
    delta = vb.astype(np.float64) - va.astype(np.float64)
    differs = (va != vb) & ~(np.isnan(va) & np.isnan(vb))
    row.changed_values = int(np.count_nonzero(differs))
    if not row.changed_values:
        return
    gap = np.abs(delta)
    row.max_abs = float(np.nanmax(gap))
    row.mean_abs = float(np.nanmean(gap))
    row.norm_a = float(np.linalg.norm(va.astype(np.float64)))
    change = float(np.linalg.norm(np.nan_to_num(delta, nan=np.inf)))
    row.rel_change = change / row.norm_a if row.norm_a > 0 else math.inf


def _histogram(network: Network, a, b, tensors: list[TensorDiff], bins: int) -> Histogram:
    """Second pass over the changed tensors with one symmetric range for all of them."""
    changed = {(t.layer, t.name) for t in tensors if t.changed}
    unchanged = sum(t.count - t.changed_values for t in tensors if t.present)
    limit = max((t.max_abs for t in tensors if t.changed and math.isfinite(t.max_abs)),
                default=0.0)
    if not changed or limit == 0.0:
        return Histogram([], [], unchanged)
    edges = np.linspace(-limit, limit, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    reader_a, reader_b, pairs = _pairs(network, a, b)
    for ta, tb in pairs:
        if (ta.layer, ta.name) not in changed:
            continue
        delta = (_natural(network, tb, reader_b.header.transposed).astype(np.float64)
                 - _natural(network, ta, reader_a.header.transposed))
        delta = delta[(delta != 0) & np.isfinite(delta)]
        counts += np.histogram(delta, edges)[0]
    return Histogram(edges.tolist(), counts.tolist(), unchanged)


def value_histogram(values: np.ndarray, bins: int = DEFAULT_BINS) -> Histogram:
    """Histogram of one tensor's differences (zeros counted as unchanged, not binned)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    nonzero = flat[(flat != 0) & np.isfinite(flat)]
    unchanged = int(flat.size - np.count_nonzero(flat))
    if nonzero.size == 0:
        return Histogram([], [], unchanged)
    limit = float(np.abs(nonzero).max())
    counts, edges = np.histogram(nonzero, np.linspace(-limit, limit, bins + 1))
    return Histogram(edges.tolist(), counts.tolist(), unchanged)


def _labelled(diagnostic: Diagnostic, which: str) -> Diagnostic:
    return Diagnostic(diagnostic.severity, f"file {which}: {diagnostic.message}",
                      diagnostic.layer, diagnostic.line)


def diff_to_text(diff: WeightsDiff, all_tensors: bool = False) -> str:
    lines = [f"diff {diff.a.path} -> {diff.b.path} (cfg {diff.cfg})"]
    for key, (old, new) in diff.header_changes().items():
        lines.append(f"header {key}: {old} -> {new}")
    shown = diff.tensors if all_tensors else diff.changed
    if shown:
        lines.append(f"  {'layer':>5} {'type':<14} {'tensor':<18} {'changed':>12} "
                     f"{'rel change':>10} {'max abs':>10}")
    for t in shown:
        rel = "new" if math.isinf(t.rel_change) else f"{t.rel_change:.3g}"
        state = f"{t.changed_values}/{t.count}" if t.present else "absent"
        lines.append(f"  {t.layer:>5} {t.type:<14} {t.name:<18} {state:>12} {rel:>10} "
                     f"{t.max_abs:>10.3g}")
    total = sum(1 for t in diff.tensors)
    lines.append(f"{len(diff.changed)} of {total} tensors changed, in "
                 f"{len(diff.changed_layers)} layers"
                 + (f": {', '.join(map(str, diff.changed_layers))}" if diff.changed_layers
                    else ""))
    lines += [str(d) for d in diff.diagnostics]
    return "\n".join(lines)
