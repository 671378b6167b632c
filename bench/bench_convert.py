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
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from process_runs import BIN, ZOO, alternated, described, model_with_random_weights, ratio  # noqa: E402,I001

FLOOR = ("import sys, numpy as np, torch; "
         "torch.save(torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.uint8)), sys.argv[2])")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", default=str(ZOO / "cfg" / "yolov4.cfg"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--format", default="pt", choices=["pt", "pt2", "onnx", "torchscript"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cfg, weights = model_with_random_weights(folder, Path(args.cfg))
        size = os.path.getsize(weights)
        extension = {"pt": "pt", "pt2": "pt2", "onnx": "onnx", "torchscript": "ts"}
        out = os.path.join(folder, f"out.{extension[args.format]}")
        ours, floor = alternated(
            [str(BIN / "darknet-inspector"), "convert", cfg, weights, "-o", out],
            [sys.executable, "-c", FLOOR, weights, os.path.join(folder, "f.pt")], args.repeat)
    print(f"{Path(args.cfg).name} at 416, random weights ({size / 1e6:.1f} MB), convert to "
          f"{args.format}, {args.repeat} rounds, load average {os.getloadavg()[0]:.1f}:")
    print(described("ours", ours))
    print(described("floor", floor))
    print(f"  ratio ours / floor: wall {ratio(ours, floor)}, cpu {ratio(ours, floor, cpu=True)}"
          f"; goal <= 1.3x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
