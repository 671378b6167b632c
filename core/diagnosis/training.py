"""The header's `seen` in training terms: images seen, iterations done, and whether
`darknet detector train` would stop at once."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.network import Network


@dataclass(frozen=True)
class TrainingState:
    seen: int  # images
    images_per_iteration: int
    iterations: int
    max_batches: int

    @property
    def finished(self) -> bool:
        """Training would stop before its first step."""
        return self.max_batches > 0 and self.iterations >= self.max_batches


def images_per_iteration(network: Network) -> int:
    """`net.batch * net.subdivisions` as `get_current_batch` (src/network.c) divides by:
    `parse_net_options` (src/parser.c) sets net.batch = batch / subdivisions (integer
    division) * time_steps."""
    section = network.net.section
    if section is None:
        return 1
    batch = section.int("batch", 1) or 1
    subdivisions = section.int("subdivisions", 1) or 1
    time_steps = section.int("time_steps", 1) or 1
    return max(1, (batch // subdivisions) * time_steps * subdivisions)


def training_state(network: Network, seen: int) -> TrainingState:
    """Iterations done = seen / (batch * subdivisions), as `load_weights_upto` sets
    `cur_iteration = get_current_batch(net)`; training runs while it is < max_batches
    (`train_detector`, src/detector.c)."""
    per = images_per_iteration(network)
    section = network.net.section
    max_batches = (section.int("max_batches", 0) or 0) if section is not None else 0
    return TrainingState(seen, per, seen // per, max_batches)
