"""`other_model`: does the file hold another known network? The known networks are
the Darknet zoo's cfgs, shipped as a compact table of their layouts (per weighted
layer its float count and batch-norm position, per head the floats one more class
adds), made by scripts/build_zoo_layouts.py; never the cfg files themselves."""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from importlib import resources

from darknet_inspector.core.diagnosis.context import Context
from darknet_inspector.core.diagnosis.evidence import check_alignment
from darknet_inspector.core.diagnosis.findings import Finding
from darknet_inspector.core.diagnosis.heads import heads
from darknet_inspector.core.diagnosis.layout import LayerLayout, layer_layout
from darknet_inspector.core.network import Network

TABLE = "zoo_layouts.json.gz"
MAX_MATCHES = 3


@dataclass(frozen=True)
class KnownNetwork:
    """One layout of the table: the cfgs that have it, at their own class count."""

    cfgs: tuple[str, ...]
    classes: int
    index: tuple[int, ...]  # layer index of each weighted layer
    floats: tuple[int, ...]
    bn: tuple[int, ...]
    bn_at: tuple[int, ...]
    heads: tuple[tuple[int, int, int], ...]  # (weighted position, floats, bn) per class

    def layout(self, classes: int) -> list[LayerLayout]:
        floats, bn = list(self.floats), list(self.bn)
        for position, per_class, bn_per_class in self.heads:
            floats[position] += (classes - self.classes) * per_class
            bn[position] += (classes - self.classes) * bn_per_class
        return [LayerLayout(*entry) for entry in zip(self.index, floats, bn, self.bn_at)]

    def classes_for(self, body_floats: int) -> int | None:
        """The class count at which this network holds exactly `body_floats`."""
        base = sum(self.floats)
        per_class = sum(h[1] for h in self.heads)
        if not per_class:
            return self.classes if base == body_floats else None
        change, rest = divmod(body_floats - base, per_class)
        classes = self.classes + change
        return classes if not rest and classes >= 1 else None

    def to_dict(self) -> dict:
        return {"cfgs": list(self.cfgs), "classes": self.classes, "index": list(self.index),
                "floats": list(self.floats), "bn": list(self.bn), "bn_at": list(self.bn_at),
                "heads": [list(h) for h in self.heads]}


def known_network(name: str, network: Network) -> KnownNetwork:
    """A network's entry for the table (every head at its own classes; 0 if none)."""
    weighted = [layer for layer in network.layers if layer.weights]
    layouts = [layer_layout(layer) for layer in weighted]
    position = {layer.index: i for i, layer in enumerate(weighted)}
    found = heads(network)
    head_rows = tuple((position[h.feeder.index], h.anchors * h.floats_per_filter,
                       h.anchors if layouts[position[h.feeder.index]].bn else 0)
                      for h in found)
    classes = found[0].classes if found else 0
    return KnownNetwork((name,), classes, tuple(e.index for e in layouts),
                        tuple(e.floats for e in layouts), tuple(e.bn for e in layouts),
                        tuple(e.bn_at for e in layouts), head_rows)


@functools.lru_cache(maxsize=1)
def known_networks() -> tuple[KnownNetwork, ...]:
    """The shipped table (empty when a stripped install lacks it)."""
    try:
        raw = resources.files(__package__).joinpath(TABLE).read_bytes()
    except (FileNotFoundError, OSError):
        return ()
    rows = json.loads(gzip.decompress(raw))["networks"]
    return tuple(KnownNetwork(tuple(r["cfgs"]), r["classes"], tuple(r["index"]),
                              tuple(r["floats"]), tuple(r["bn"]), tuple(r["bn_at"]),
                              tuple(tuple(h) for h in r["heads"])) for r in rows)


def first_difference(ctx: Context, theirs: list[LayerLayout]) -> int | None:
    """Our first weighted layer whose float count differs from the other network's."""
    ours = [entry for entry in ctx.layout if entry.floats]
    for mine, other in zip(ours, theirs):
        if mine.floats != other.floats or mine.bn != other.bn:
            return mine.index
    return ours[min(len(ours), len(theirs)) - 1].index if ours else None


def other_models(ctx: Context) -> list[Finding]:
    """Known networks (at any class count) that hold exactly the file's floats and read
    healthy there."""
    body = ctx.body_floats
    if body is None:
        return []
    findings = []
    for known in known_networks():
        classes = known.classes_for(body)
        if classes is None:
            continue
        layout = known.layout(classes)
        alignment = check_alignment(layout, ctx.data, ctx.header_bytes, ctx.file_bytes)
        if not alignment.healthy or (not alignment.checked and known.heads):
            continue
        layer = first_difference(ctx, layout)
        line = ctx.network.layers[layer].line if layer is not None else None
        cfgs = sorted(known.cfgs, key=lambda name: (len(name), name))
        names = ", ".join(cfgs[:4]) + (" ..." if len(known.cfgs) > 4 else "")
        with_classes = f" with classes={classes}" if known.heads else ""
        findings.append(Finding(
            "other_model", layer, line,
            f"these weights fit {cfgs[0]}{with_classes}, not this cfg"
            + (f" (the layouts part at layer {layer})" if layer is not None else ""),
            f"use {cfgs[0]} from the Darknet zoo{with_classes}"
            + (f" (same layout: {names})" if len(known.cfgs) > 1 else ""), True,
            [f"{cfgs[0]}{with_classes} holds exactly the file's floats and all "
             f"{alignment.checked} of its batch-norm layers read healthy there"], score=3))
        if len(findings) >= MAX_MATCHES:
            break
    return findings
