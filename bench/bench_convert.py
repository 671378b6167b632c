"""Whole-process `convert` to our .pt against the floor: reading the file + `torch.save`.

    .venv/bin/python bench/bench_convert.py [--cfg CFG] [--repeat 5] [--format pt]

Full-size yolov4 at 416 with random weights (our writer, a temp folder; 257.7 MB). Every
round runs, alternating, two fresh processes:

- ours: `darknet-inspector convert CFG WEIGHTS -o OUT.pt` (imports, cfg, weights read,
  model, torch.save, and the self-check: reload, every tensor compared, one forward per
  model at the smallest input the network accepts);
- floor: `python -c "import numpy, torch; torch.save(torch.from_numpy(np.fromfile(W)), OUT)"`.

Prints wall and CPU (user+sys) medians and minima, and the ratios ours / floor. Goal: ours
<= 1.3x the floor (issue 15).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ZOO = ROOT.parent / "shared" / "zoo"
BIN = Path(sys.executable).parent
FLOOR = ("import sys, numpy as np, torch; "
         "torch.save(torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.uint8)), sys.argv[2])")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))


def describe(name: str, runs: list[tuple[float, float]]) -> str:
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    return (f"  {name:<6} wall {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
            f"cpu {statistics.median(cpus):.2f} s (min {min(cpus):.2f})")


def ratio(ours: list[tuple[float, float]], floor: list[tuple[float, float]], i: int) -> str:
    a, b = [r[i] for r in ours], [r[i] for r in floor]
    return (f"{statistics.median(a) / statistics.median(b):.2f}x "
            f"(mins {min(a) / min(b):.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", default=str(ZOO / "cfg" / "yolov4.cfg"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--format", default="pt", choices=["pt", "pt2", "onnx", "torchscript"])
    args = parser.parse_args()
    from bench_detect import cfg_at_size

    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.weights import random_weights, write_weights

    with tempfile.TemporaryDirectory() as folder:
        cfg = os.path.join(folder, "model.cfg")
        Path(cfg).write_text(cfg_at_size(Path(args.cfg).read_text(), 416))
        network = load_network(cfg)
        weights = os.path.join(folder, "model.weights")
        write_weights(weights, network, random_weights(network, seed=0))
        size = os.path.getsize(weights)
        extension = {"pt": "pt", "pt2": "pt2", "onnx": "onnx", "torchscript": "ts"}
        out = os.path.join(folder, f"out.{extension[args.format]}")
        ours_command = [str(BIN / "darknet-inspector"), "convert", cfg, weights, "-o", out]
        floor_command = [sys.executable, "-c", FLOOR, weights, os.path.join(folder, "f.pt")]
        timed(ours_command)  # warm-up: page cache, .pyc files
        timed(floor_command)
        ours, floor = [], []
        for _ in range(args.repeat):
            ours.append(timed(ours_command))
            floor.append(timed(floor_command))
    print(f"{Path(args.cfg).name} at 416, random weights ({size / 1e6:.1f} MB), convert to "
          f"{args.format}, {args.repeat} rounds, load average {os.getloadavg()[0]:.1f}:")
    print(describe("ours", ours))
    print(describe("floor", floor))
    print(f"  ratio ours / floor: wall {ratio(ours, floor, 0)}, cpu {ratio(ours, floor, 1)}"
          f"; goal <= 1.3x")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    sys.exit(main())
