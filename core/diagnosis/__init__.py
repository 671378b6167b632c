"""Why cfg and weights disagree: hypotheses, each tested by applying its fix in memory
(cfg edits, another header size, another known network) and ranked by evidence.

Entry point: `core.diagnosis.engine.diagnose(network, weights_path) -> list[Finding]`,
most likely first. This package itself loads only the findings' vocabulary: `inspect`,
`detect` and the app's report name a Finding without loading the hypotheses and the zoo
table.
No Qt and no torch here: float counts, cumulative sums and a few floats read with plain
reads (never a memory map).
"""

from darknet_inspector.core.diagnosis.findings import CAUSES, Finding

__all__ = ["CAUSES", "Finding"]
