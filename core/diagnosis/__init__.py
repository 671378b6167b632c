"""Why cfg and weights disagree: hypotheses, each tested by applying its fix in memory
(cfg edits, another header size, another known network) and ranked by evidence.

Entry point: `diagnose(network, weights_path) -> list[Finding]`, most likely first.
No Qt and no torch here: float counts, cumulative sums and a few floats read from a
memory map.
"""

from darknet_inspector.core.diagnosis.engine import diagnose, diagnose_buffer
from darknet_inspector.core.diagnosis.findings import CAUSES, Finding

__all__ = ["CAUSES", "Finding", "diagnose", "diagnose_buffer"]
