"""A top-to-bottom layout of a network's data-flow graph (for the graph view).

Our own simple layered layout (Sugiyama's first steps), not a library: Graphviz's `dot`
lays out better but is a system binary plus a binding that does not install cleanly from
the registry everywhere, and grandalf/networkx layouts are slow on 400+ nodes in pure
Python. A Darknet graph is nearly a chain with a few long skips (route, shortcut, sam,
scale_channels), which this handles in linear time:

1. rank: a layer sits one row below the lowest of its sources (longest path from the
   input), so every edge points down;
2. order: within a row, layers are sorted by the mean column of their sources
   (barycentre), ties by index, and centred; a chain therefore stays one straight column.

Edges are `Layer.inputs` (every source a layer reads; -1, the network input, is left out).
"""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.network import Network


@dataclass(frozen=True)
class GraphLayout:
    """Row and column of each layer (index order) and the edges (source, layer)."""

    rows: tuple[int, ...]
    columns: tuple[float, ...]
    edges: tuple[tuple[int, int], ...]

    @property
    def depth(self) -> int:
        return max(self.rows, default=-1) + 1


def graph_edges(network: Network) -> list[tuple[int, int]]:
    """(source, layer) for every input a layer reads from another layer."""
    return [(source, layer.index) for layer in network.layers for source in layer.inputs
            if 0 <= source < layer.index]


def layered_layout(network: Network) -> GraphLayout:
    """Rows by longest path from the input, columns by barycentre (module docstring)."""
    count = len(network.layers)
    edges = graph_edges(network)
    sources: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        sources[target].append(source)
    rows = [0] * count
    for index in range(count):
        rows[index] = 1 + max((rows[s] for s in sources[index]), default=-1)
    by_row: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_row.setdefault(row, []).append(index)
    columns = [0.0] * count
    for row in sorted(by_row):
        members = by_row[row]
        wanted = {i: (sum(columns[s] for s in sources[i]) / len(sources[i])
                      if sources[i] else 0.0) for i in members}
        members.sort(key=lambda i: (wanted[i], i))
        offset = (len(members) - 1) / 2
        for slot, index in enumerate(members):
            columns[index] = slot - offset + _nearest_half(
                sum(wanted.values()) / len(members)) if len(members) > 1 else wanted[index]
    return GraphLayout(tuple(rows), tuple(columns), tuple(edges))


def _nearest_half(value: float) -> float:
    return round(value * 2) / 2
