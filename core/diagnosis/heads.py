"""Detection heads and the class count their feeding conv holds."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers import head_type
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network


@dataclass(frozen=True)
class Head:
    layer: Layer
    feeder: Layer
    anchors: int
    entries: int
    classes: int

    def filters_for(self, classes: int) -> int:
        return self.anchors * (classes + self.entries)

    def classes_held(self, filters: int) -> int | None:
        """The class count `filters` channels mean for this head, None if none does."""
        if filters % self.anchors:
            return None
        classes = filters // self.anchors - self.entries
        return classes if classes >= 1 else None

    @property
    def feeder_filters(self) -> int:
        return self.feeder.weights[0].shape[0]

    @property
    def floats_per_filter(self) -> int:
        return sum(spec.count // spec.shape[0] for spec in self.feeder.weights)

    @property
    def classes_line(self) -> int:
        return self.layer.section.line_of("classes")

    @property
    def filters_line(self) -> int:
        return self.feeder.section.line_of("filters")


def heads(network: Network) -> list[Head]:
    """Heads laid out per anchor (filters = anchors * (classes + entries), the head
    type's own rule) and fed directly by a [convolutional] that stores weights."""
    found = []
    for layer in network.layers:
        kind = head_type(layer.type)
        anchors = kind.filters_per_class(layer) if kind is not None and layer.known else None
        if kind is None or not anchors or layer.index == 0:
            continue
        feeder = network.layers[layer.index - 1]
        if feeder.type != "convolutional" or not feeder.weights:
            continue
        classes = kind.params(layer).classes
        entries = kind.required_inputs(layer) // anchors - classes
        found.append(Head(layer, feeder, anchors, entries, classes))
    return found


def lines_text(lines: list[int]) -> str:
    return f"line{'s' if len(lines) > 1 else ''} {', '.join(str(n) for n in lines)}"


def classes_noun(classes: int) -> str:
    return f"{classes} class{'es' if classes != 1 else ''}"
