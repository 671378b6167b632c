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
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from process_runs import BIN, alternated, described, model_with_random_weights, ratio  # noqa: E402,I001

TORCH_CHECK = "import sys; from darknet_inspector.core.cli import main; main(sys.argv[1:]); " \
              "print('torch imported:', 'torch' in sys.modules, file=sys.stderr)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cfg, weights = model_with_random_weights(folder)
        said = subprocess.run([sys.executable, "-c", TORCH_CHECK, "inspect", cfg, weights],
                              capture_output=True, text=True).stderr
        ours, torch = alternated([str(BIN / "darknet-inspector"), "inspect", cfg, weights],
                                 [sys.executable, "-c", "import torch"], args.repeat,
                                 ok=(0, 1))
    print(f"yolov4 416 with random weights, {args.repeat} rounds, load average "
          f"{os.getloadavg()[0]:.1f}; inspect's {said.strip().splitlines()[-1]}")
    print(described("inspect", ours))
    print(described("import torch", torch))
    print(f"  ratio inspect / import torch: {ratio(ours, torch)}; goal <= 0.3x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
