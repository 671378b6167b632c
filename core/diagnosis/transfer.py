"""Transfer preview: which layers of a related network's pretrained weights load into
this cfg exactly, the first that would not, and the cut to give `partial` (Darknet's
`darknet partial CFG WEIGHTS OUT N` keeps layers 0..N-1, the "yolov4-tiny.conv.29"
files people start training from)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.diagnosis.findings import Finding
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network, build_network

# causes whose `layer` is where loading stops; a cfg edit's fixed cfg says it exactly
CUT_AT_LAYER = ("truncated", "other_model")
CUT_BY_FIX = ("classes", "cfg_diverges")


@dataclass(frozen=True)
class TransferPreview:
    """Layers 0..exact-1 load exactly; `layer` (cfg `line`) is the first that would not."""

    exact: int
    layer: int
    line: int
    type: str
    cause: str  # the finding that places the cut

    def output_name(self, weights: str) -> str:
        return f"{os.path.splitext(os.path.basename(weights))[0]}.conv.{self.exact}"

    def command(self, cfg: str, weights: str) -> str | None:
        """Our `partial` command line for the cut (None when no layer loads)."""
        if self.exact < 1:
            return None
        return (f"darknet-inspector partial {shlex.quote(cfg)} {shlex.quote(weights)} "
                f"{self.exact} -o {shlex.quote(self.output_name(weights))}")

    def text(self, cfg: str, weights: str) -> str:
        where = f"layer {self.layer} ([{self.type}], line {self.line})"
        command = self.command(cfg, weights)
        if command is None:
            return f"transfer: {where} already differs: no layer of these weights loads exactly"
        held = "layer 0 loads" if self.exact == 1 else f"layers 0..{self.exact - 1} load"
        return (f"transfer: {held} exactly, {where} would not ({self.cause}); keep them:\n"
                f"    {command}\n"
                f"    (Darknet: darknet partial CFG WEIGHTS {self.output_name(weights)} "
                f"{self.exact})")

    def to_dict(self, cfg: str, weights: str) -> dict:
        return {"exact_layers": self.exact, "layer": self.layer, "line": self.line,
                "cause": self.cause, "command": self.command(cfg, weights)}


def weight_shapes(layer: Layer) -> list[tuple[str, tuple[int, ...]]]:
    return [(spec.name, tuple(spec.shape)) for spec in layer.weights]


def first_layer_differing(ours: Sequence[Layer], fixed: Sequence[Layer]) -> int | None:
    """Our first layer whose tensors differ from the fixed network's (by index)."""
    for mine, theirs in zip(ours, fixed):
        if not mine.known or not theirs.known or weight_shapes(mine) != weight_shapes(theirs):
            return mine.index
    if len(ours) > len(fixed) and any(layer.weights for layer in ours[len(fixed):]):
        return len(fixed)
    return None


def fixed_network(finding: Finding) -> Network | None:
    if finding.fixed_cfg is None:
        return None
    try:
        return build_network(parse_cfg(finding.fixed_cfg))
    except InspectorError:
        return None


def cut_of(network: Network, finding: Finding) -> int | None:
    """Where `finding` says loading stops (None: it does not say, or nowhere)."""
    if finding.cause in CUT_AT_LAYER:
        return finding.layer
    if finding.cause in CUT_BY_FIX and (finding.verified or finding.cause == "classes"):
        fixed = fixed_network(finding)
        if fixed is not None:
            return first_layer_differing(network.layers, fixed.layers)
    return None


def transfer_preview(network: Network, findings: Sequence[Finding]) -> TransferPreview | None:
    """The cut for `partial` when the findings say where the weights stop loading into
    this cfg; None for a matching pair, or when no finding places the cut exactly (an
    unexplained divergence, a header or trailing-bytes problem)."""
    cuts = [(cut, finding) for finding in findings
            if (cut := cut_of(network, finding)) is not None]
    unknown = next((layer.index for layer in network.layers if not layer.known), None)
    if not cuts:
        return None
    cut, finding = min(cuts, key=lambda pair: pair[0])
    if unknown is not None and unknown < cut:
        cut = unknown
    layer = network.layers[cut]
    return TransferPreview(cut, cut, layer.line, layer.type, finding.cause)
