"""What the whole-process benchmarks share (bench_convert, bench_detect_process,
bench_inspect): a full-size model with random weights in a temp folder, one child
process timed (wall and CPU), two commands alternated round by round, and the ratio of
their medians and minima printed the same way."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT.parent / "shared" / "zoo"
BIN = Path(sys.executable).parent
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
"""The CLI's own default (threads sleep at barriers), for ours and the peer alike."""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + sys of the child
    stderr: str


def timed(command: list[str], ok: tuple[int, ...] = (0,)) -> Run:
    """One child process: wall and CPU seconds; a SystemExit with its output if its exit
    status is not in `ok`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, done.stderr)


def alternated(ours: list[str], theirs: list[str], repeat: int,
               ok: tuple[int, ...] = (0,)) -> tuple[list[Run], list[Run]]:
    """Both commands once to warm up (page cache, .pyc files), then `repeat` rounds
    alternating them, so load and cache treat both alike."""
    timed(ours, ok)
    timed(theirs, ok)
    ours_runs, their_runs = [], []
    for _ in range(repeat):
        ours_runs.append(timed(ours, ok))
        their_runs.append(timed(theirs, ok))
    return ours_runs, their_runs


def described(name: str, runs: list[Run]) -> str:
    walls, cpus = [r.wall for r in runs], [r.cpu for r in runs]
    return (f"  {name:<12} wall {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
            f"cpu {statistics.median(cpus):.2f} s (min {min(cpus):.2f})")


def ratio(ours: list[Run], theirs: list[Run], cpu: bool = False) -> str:
    """Median over median, and minimum over minimum, of wall (or CPU) seconds."""
    a = [r.cpu if cpu else r.wall for r in ours]
    b = [r.cpu if cpu else r.wall for r in theirs]
    return f"{statistics.median(a) / statistics.median(b):.2f}x (mins {min(a) / min(b):.2f}x)"


def model_with_random_weights(folder: str, cfg: Path = ZOO / "cfg" / "yolov4.cfg",
                              size: int = 416, name: str = "model") -> tuple[str, str]:
    """`cfg` at `size` (bench_detect.cfg_at_size) and seeded random weights written by our
    writer, both in `folder`; returns their paths."""
    from bench_detect import cfg_at_size

    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.weights import random_weights, write_weights

    cfg_path = os.path.join(folder, f"{name}.cfg")
    Path(cfg_path).write_text(cfg_at_size(Path(cfg).read_text(), size))
    weights = os.path.join(folder, f"{name}.weights")
    network = load_network(cfg_path)
    write_weights(weights, network, random_weights(network, seed=0))
    return cfg_path, weights
