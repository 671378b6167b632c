"""Whole-process `detect` against a whole-process OpenCV DNN pipeline doing the same work.

    .venv/bin/python bench/bench_detect_process.py [--repeat 5] [--image JPG]

yolov4 at 416 (our writer, a temp folder), two cases:

- conf 0.6 on trained-like weights (bench_detect.py's rescaled heads: a handful of boxes);
- conf 0.25 on plain random weights (an untrained model: ~640k (box, class) pairs pass).

Every round runs, alternating, two fresh processes:

- ours: `darknet-inspector detect CFG WEIGHTS IMAGE --conf C` (on the CPU the numpy
  engine: imports, cfg, weights, model, Darknet's resize, forward, decoding, NMS on the
  20,000 most confident pairs);
- OpenCV: `python -c ...`: import cv2, `readNetFromDarknet`, `imread`, `blobFromImage`,
  forward, the same thresholds, the same cut to the 20,000 most confident pairs, and
  `NMSBoxesBatched`.

Same thread count (each library's default) and `OMP_WAIT_POLICY=PASSIVE` for both. Prints
wall medians and minima, the ratio ours / OpenCV, and the CPU time (user + sys) of each,
which moves less than the wall time on a shared machine. Goals (issue 15): <= 0.8x at
0.6, <= 1.0x at 0.25 (wall).
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

OPENCV = """
import sys
import cv2
import numpy as np
cfg, weights, path, conf = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
net = cv2.dnn.readNetFromDarknet(cfg, weights)
image = cv2.imread(path)
blob = cv2.dnn.blobFromImage(image, 1 / 255.0, (416, 416), swapRB=True, crop=False)
net.setInput(blob)
rows = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()))
height, width = image.shape[:2]
probs = rows[:, 5:]
box_index, class_index = np.nonzero((rows[:, 4:5] > conf) & (probs > conf))
scores = probs[box_index, class_index]
if len(scores) > 20000:
    top = np.argpartition(-scores, 20000)[:20000]
    box_index, class_index, scores = box_index[top], class_index[top], scores[top]
centre, size = rows[box_index, :2], rows[box_index, 2:4]
boxes = np.concatenate([(centre - size / 2) * (width, height), size * (width, height)], 1)
kept = cv2.dnn.NMSBoxesBatched(boxes.tolist(), scores.tolist(), class_index.tolist(),
                               conf, 0.45)
print(len(kept), "detections")
"""


def bench_case(name: str, cfg: str, weights: str, image: str, conf: float, repeat: int
               ) -> None:
    ours, theirs = alternated(
        [str(BIN / "darknet-inspector"), "detect", cfg, weights, image, "--conf", str(conf)],
        [sys.executable, "-c", OPENCV, cfg, weights, image, str(conf)], repeat, ok=(0, 1))
    print(f"{name}, conf {conf}:")
    print(described("ours", ours))
    print(described("OpenCV", theirs))
    print(f"  ratio ours / OpenCV: wall {ratio(ours, theirs)}, "
          f"cpu {ratio(ours, theirs, cpu=True)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ZOO / "data" / "dog.jpg"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from bench_detect import trained_like_weights

    with tempfile.TemporaryDirectory() as folder:
        cfg, untrained = model_with_random_weights(folder)
        trained = os.path.join(folder, "trained-like.weights")
        trained_like_weights(cfg, trained, args.image)
        print(f"yolov4 416, {args.image}, {args.repeat} rounds, load average "
              f"{os.getloadavg()[0]:.1f}:")
        bench_case("trained-like weights", cfg, trained, args.image, 0.6, args.repeat)
        bench_case("untrained (random) weights", cfg, untrained, args.image, 0.25,
                   args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
