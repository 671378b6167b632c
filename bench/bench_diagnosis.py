"""What the diagnosis adds to `inspect` on full-size YOLOv4 (416x416, ~258 MB of random
weights) whose cfg has one layer's kernel size changed.

    .venv/bin/python bench/bench_diagnosis.py [--cfg CFG] [--layer 40] [--repeat 5]

`inspect` without diagnosis: parse+build, the streaming reader over the whole file
(records, ledger), the report and its text. With: the same plus `diagnose` (hypotheses,
the structural search, the batch-norm evidence). Alternating both in every round.
Target: the diagnosis adds at most 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darknet_inspector.core.cfg import split_lines  # noqa: E402
from darknet_inspector.core.diagnosis.engine import diagnose  # noqa: E402
from darknet_inspector.core.network import load_network  # noqa: E402
from darknet_inspector.core.report import inspection_text, make_report  # noqa: E402
from darknet_inspector.core.weights import random_weights, read_weights, write_weights  # noqa: E402

DEFAULT_CFG = ROOT.parent / "shared" / "zoo" / "cfg" / "yolov4.cfg"


def inspect(cfg: Path, weights: Path, with_diagnosis: bool) -> tuple[float, list]:
    start = time.perf_counter()
    network = load_network(cfg)
    records, ledger = read_weights(network, weights)
    found = diagnose(network, weights) if with_diagnosis else []
    inspection_text(make_report(network, records, ledger, diagnosis=found))
    return time.perf_counter() - start, found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg", default=str(DEFAULT_CFG))
    parser.add_argument("--layer", type=int, default=40, help="the layer whose size= changes")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    network = load_network(args.cfg)
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "model.weights"
        write_weights(weights, network, random_weights(network))
        section = network.layers[args.layer].section
        lines = split_lines(network.cfg.text)
        size = section.int("size", 1)
        lines[section.line_of("size") - 1] = f"size={1 if size == 3 else 3}"
        cfg = Path(folder) / "broken.cfg"
        cfg.write_text("\n".join(lines))
        print(f"{args.cfg}: {weights.stat().st_size / 1e6:.1f} MB, layer {args.layer} "
              f"size {size} -> {1 if size == 3 else 3}")
        plain, full = [], []
        for _ in range(args.repeat):
            plain.append(inspect(cfg, weights, False)[0])
            seconds, found = inspect(cfg, weights, True)
            full.append(seconds)
        print(f"top cause: {found[0].cause} at layer {found[0].layer}: {found[0].fix}")
        for name, times in (("inspect", plain), ("inspect+diagnosis", full)):
            print(f"{name:>18}: median {statistics.median(times):.3f} s, min {min(times):.3f} s")
        added = statistics.median(full) - statistics.median(plain)
        print(f"diagnosis adds {added:.3f} s (median), ratio "
              f"{statistics.median(full) / statistics.median(plain):.2f}x "
              f"(mins {min(full) / min(plain):.2f}x); target: adds <= 1 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
