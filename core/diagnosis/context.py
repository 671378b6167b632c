"""What every hypothesis test looks at: the network, the file's bytes, its layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from darknet_inspector.core.diagnosis.evidence import Alignment, check_alignment
from darknet_inspector.core.diagnosis.layout import LayerLayout, network_layout, total_floats
from darknet_inspector.core.network import Network


@dataclass
class Context:
    network: Network
    data: object  # a buffer over the whole file (memory map)
    header_bytes: int
    file_bytes: int
    layout: list[LayerLayout]
    alignment: Alignment

    @property
    def expected_floats(self) -> int:
        return total_floats(self.layout)

    @property
    def missing_bytes(self) -> int:
        """What the cfg needs beyond what the file has (negative: bytes left over)."""
        return self.header_bytes + 4 * self.expected_floats - self.file_bytes

    @property
    def body_floats(self) -> int | None:
        """Floats after the header; None when the body is not a whole number of floats."""
        body = self.file_bytes - self.header_bytes
        return body // 4 if body % 4 == 0 else None

    def matches(self, layout: Sequence[LayerLayout], header_bytes: int | None = None) -> bool:
        """The file holds exactly `layout` and every batch-norm triple reads healthy."""
        header = self.header_bytes if header_bytes is None else header_bytes
        if header + 4 * total_floats(layout) != self.file_bytes:
            return False
        return check_alignment(layout, self.data, header, self.file_bytes).healthy

    def network_matches(self, network: Network | None) -> bool:
        """An edited network: builds without new errors and matches the file exactly."""
        if network is None or not network.complete:
            return False
        if len(network.errors) > len(self.network.errors) - (not self.network.complete):
            return False
        return self.matches(network_layout(network.layers))


def make_context(network: Network, data, header_bytes: int, file_bytes: int) -> Context:
    """The context of a network; when cfg errors hide its shapes past some layer, the
    layout covers the layers before that one."""
    known = []
    for layer in network.layers:
        if not layer.known:
            break
        known.append(layer)
    layout = network_layout(known)
    return Context(network, data, header_bytes, file_bytes, layout,
                   check_alignment(layout, data, header_bytes, file_bytes))
