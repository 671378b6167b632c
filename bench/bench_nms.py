"""NMS on an untrained model's 20,000 most confident (box, class) pairs, ours vs OpenCV.

    .venv/bin/python bench/bench_nms.py [--image JPG] [--repeat 7] [--pairs 20000]

yolov4 at 416x416 with plain random weights (our writer, a temp folder) on one photo:
every box sits at objectness ~0.5 and class ~0.5, so ~640k pairs pass conf 0.25 and
`Detector.detections` keeps the `--pairs` most confident for NMS, as `detect` does. The
same pairs then go, alternating every round, through

- ours: `core.nms.greedy_nms` with the cfg's `nms_kind` (greedynms: DIoU, Darknet's
  per-class greedy order) at 0.45;
- OpenCV: `cv2.dnn.NMSBoxesBatched` (per-class IoU NMS, C++) on the same boxes.

Prints wall and CPU time (median and min) and the ratio ours / OpenCV. Goal: ours
<= 0.2 s wall on the project's 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as core/cli.py does


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_detect import cfg_at_size, load_ours  # noqa: E402

from darknet_inspector.core.detect import Detector, _pairs_above  # noqa: E402
from darknet_inspector.core.network import load_network  # noqa: E402
from darknet_inspector.core.nms import greedy_nms  # noqa: E402
from darknet_inspector.core.weights import random_weights, write_weights  # noqa: E402

ZOO = ROOT.parent / "shared" / "zoo"
CONF, NMS = 0.25, 0.45


def untrained_pairs(image: str, count: int, folder: str):
    """The `count` most confident pairs over CONF of yolov4 with random weights."""
    cfg = os.path.join(folder, "yolov4-416.cfg")
    Path(cfg).write_text(cfg_at_size((ZOO / "cfg" / "yolov4.cfg").read_text(), 416))
    network = load_network(cfg)
    weights = os.path.join(folder, "yolov4.weights")
    write_weights(weights, network, random_weights(network, seed=0))
    inference = Detector(load_ours(cfg, weights).fuse()).infer(image)
    boxes, scores, classes = _pairs_above(inference.candidates, CONF)
    total = scores.size
    top = np.argsort(-scores, kind="stable")[:min(count, total)]
    return boxes[top], scores[top], classes[top], total, inference.nms_kind, inference.beta_nms


def timed(function) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    kept = function()
    return kept, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ZOO / "data" / "dog.jpg"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=20000)
    args = parser.parse_args()
    import cv2

    with tempfile.TemporaryDirectory() as folder:
        boxes, scores, classes, total, kind, beta = untrained_pairs(args.image, args.pairs,
                                                                    folder)
    corners = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, 2:]], axis=1) * 416
    cv_boxes, cv_scores = corners.tolist(), scores.tolist()
    cv_classes = classes.tolist()

    def ours() -> int:
        return len(greedy_nms(boxes, scores, classes, NMS, kind, beta))

    def theirs() -> int:
        return len(cv2.dnn.NMSBoxesBatched(cv_boxes, cv_scores, cv_classes, CONF, NMS))

    ours()  # warm-up both
    theirs()
    samples: dict[str, list[tuple[int, float, float]]] = {"ours": [], "OpenCV": []}
    for _ in range(args.repeat):
        samples["ours"].append(timed(ours))
        samples["OpenCV"].append(timed(theirs))
    print(f"yolov4 416, random weights, {args.image}: {total:,} pairs over {CONF}, the "
          f"{len(scores):,} most confident through NMS {NMS} ({kind}, "
          f"{len(np.unique(classes))} classes; numpy)")
    medians = {}
    for name, runs in samples.items():
        walls, cpus = [r[1] for r in runs], [r[2] for r in runs]
        medians[name] = (statistics.median(walls), min(walls))
        print(f"  {name:<7} wall {statistics.median(walls):.3f} s (min {min(walls):.3f}), "
              f"cpu {statistics.median(cpus):.3f} s, kept {runs[-1][0]:,}")
    (ours_median, ours_min), (their_median, their_min) = medians["ours"], medians["OpenCV"]
    print(f"  ratio ours / OpenCV: {ours_median / their_median:.2f}x "
          f"(mins {ours_min / their_min:.2f}x); goal ours <= 0.2 s: "
          f"{'met' if ours_median <= 0.2 else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
