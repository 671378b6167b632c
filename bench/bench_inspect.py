"""Whole-process `inspect` of yolov4 with its weights against `python -c "import torch"`.

    .venv/bin/python bench/bench_inspect.py [--repeat 5]

yolov4 at 416 with random weights (our writer, a temp folder; 257.7 MB). Every round
runs, alternating, two fresh processes: `darknet-inspector inspect CFG WEIGHTS` (cfg,
shapes, the byte ledger over the whole file, tensor health flags, the report) and
`python -c "import torch"`. Prints wall medians and minima and the ratio. Goal (issue
15): inspect <= 0.3x the torch import, which it can only reach when it never imports
torch (tests/core/test_inspect_imports.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
ZOO = ROOT.parent / "shared" / "zoo"
BIN = Path(sys.executable).parent
TORCH_CHECK = "import sys; from darknet_inspector.core.cli import main; main(sys.argv[1:]); " \
              "print('torch imported:', 'torch' in sys.modules, file=sys.stderr)"


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from bench_detect import cfg_at_size

    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.weights import random_weights, write_weights

    with tempfile.TemporaryDirectory() as folder:
        cfg = os.path.join(folder, "yolov4-416.cfg")
        Path(cfg).write_text(cfg_at_size((ZOO / "cfg" / "yolov4.cfg").read_text(), 416))
        weights = os.path.join(folder, "yolov4.weights")
        network = load_network(cfg)
        write_weights(weights, network, random_weights(network, seed=0))
        ours_command = [str(BIN / "darknet-inspector"), "inspect", cfg, weights]
        torch_command = [sys.executable, "-c", "import torch"]
        _, said = timed([sys.executable, "-c", TORCH_CHECK, "inspect", cfg, weights])
        timed(ours_command)  # warm-up: page cache, .pyc files
        timed(torch_command)
        ours, torch = [], []
        for _ in range(args.repeat):
            ours.append(timed(ours_command)[0])
            torch.append(timed(torch_command)[0])
    print(f"yolov4 416 with random weights, {args.repeat} rounds, load average "
          f"{os.getloadavg()[0]:.1f}; inspect's {said.strip().splitlines()[-1]}")
    print(f"  inspect      {statistics.median(ours):.2f} s (min {min(ours):.2f})")
    print(f"  import torch {statistics.median(torch):.2f} s (min {min(torch):.2f})")
    ratio = statistics.median(ours) / statistics.median(torch)
    print(f"  ratio inspect / import torch: {ratio:.2f}x (mins {min(ours) / min(torch):.2f}x); "
          "goal <= 0.3x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
