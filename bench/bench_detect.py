"""End-to-end `detect` latency against an OpenCV DNN pipeline doing the same work.

    .venv/bin/python bench/bench_detect.py [--image JPG] [--repeat 7] [--threads N]
                                           [--device cpu|cuda|auto] [--models yolov4 ...]

For yolov4 and yolov4-tiny at 416x416 with random weights (written with our writer to a
temp folder), one image goes through both pipelines, alternating in every round so the
machine's load treats both alike. Plain random weights leave every box at objectness
~0.5 and class ~0.5, so ~150k (box, class) pairs sit just above 0.25 and both pipelines
would measure nothing but NMS; the convolutions feeding the heads are therefore rescaled
so their objectness and class logits look like a trained detector's (mean -4, std 1.5),
which leaves a realistic few hundred candidates.

- ours: `Detector.infer` + `Detector.detections` (Pillow decode, Darknet's resize,
  network with BN folded, head decoding, Darknet's per-class NMS), conf 0.25, NMS 0.45;
- OpenCV: `cv2.imread`, `cv2.dnn.blobFromImage` (resize, 1/255, BGR->RGB), `net.forward`
  of its Darknet importer, the same thresholds on its yolo outputs, and
  `cv2.dnn.NMSBoxesBatched` (per-class NMS).

Both use the same number of CPU threads (OpenMP threads sleep between ops, as in the
CLI). Prints per-stage medians and the ratio ours / OpenCV of the end-to-end medians
(below 1 = faster than OpenCV).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as core/cli.py does

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darknet_inspector.core.detect import Detector  # noqa: E402
from darknet_inspector.core.layers.registry import head_type  # noqa: E402
from darknet_inspector.core.model import DarknetModel  # noqa: E402
from darknet_inspector.core.network import load_network  # noqa: E402
from darknet_inspector.core.torch_engine import resolve_device  # noqa: E402
from darknet_inspector.core.weights import WeightsReader, random_weights, write_weights  # noqa: E402

ZOO = ROOT.parent / "shared" / "zoo"
MODELS = {"yolov4": "yolov4.cfg", "yolov4-tiny": "yolov4-tiny.cfg"}
CONF, NMS = 0.25, 0.45


def cfg_at_size(text: str, size: int) -> str:
    """The cfg with `[net]` width/height set to `size` and inline comments dropped (OpenCV
    keeps them in the value)."""
    lines, section = [], ""
    for raw in text.splitlines():
        line = re.split(r"[#;]", raw, maxsplit=1)[0].rstrip()
        if line.strip().startswith("["):
            section = line.strip()
        elif section in ("[net]", "[network]") and line.split("=")[0].strip() in (
                "width", "height"):
            line = f"{line.split('=')[0].strip()}={size}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def load_ours(cfg: str, weights: str) -> DarknetModel:
    network = load_network(cfg)
    model = DarknetModel(network).eval()
    reader = WeightsReader(network, weights)
    model.load_records(reader.records(), reader.header.transposed)
    return model


def trained_like_weights(cfg: str, weights: str, image: str, seed: int = 0) -> None:
    """Random weights whose head-feeding convolutions give objectness and class logits
    of mean -4 and std 1.5 on `image` (per channel), written to `weights`."""
    network = load_network(cfg)
    tensors = random_weights(network, seed=seed)
    write_weights(weights, network, tensors)
    detector = Detector(load_ours(cfg, weights))
    x = torch.from_numpy(detector.preprocess(image)[0])[None]
    with torch.inference_mode():
        outputs = detector.model(x, all_outputs=True)
    for layer in detector.heads:
        head = head_type(layer.type)
        assert head is not None  # detector.heads are heads
        feeder = layer.index - 1
        if (feeder, "scales") in tensors or (feeder, "biases") not in tensors:
            continue
        logits = outputs[feeder][0].flatten(1).double()
        mean, std = logits.mean(dim=1).numpy(), logits.std(dim=1).numpy()
        entries = logits.shape[0] // len(head.anchor_boxes(layer))
        w, b = tensors[(feeder, "weights")], tensors[(feeder, "biases")]
        for channel in range(logits.shape[0]):
            if channel % entries >= 4:  # objectness and classes
                scale = 1.5 / max(std[channel], 1e-6)
                w[channel] *= scale
                b[channel] = -4.0 - scale * (mean[channel] - b[channel])
    write_weights(weights, network, tensors)


class OpenCVPipeline:
    """The same work with OpenCV: decode, resize, forward, threshold, per-class NMS."""

    def __init__(self, cfg: str, weights: str, size: int):
        import cv2

        self.cv2 = cv2
        self.net = cv2.dnn.readNetFromDarknet(cfg, weights)
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.size = size

    def __call__(self, path: str) -> tuple[int, dict[str, float]]:
        cv2 = self.cv2
        start = time.perf_counter()
        image = cv2.imread(path)
        if image is None:
            raise SystemExit(f"OpenCV cannot read {path}")
        blob = cv2.dnn.blobFromImage(image, 1 / 255.0, (self.size, self.size), swapRB=True,
                                     crop=False)
        prepared = time.perf_counter()
        self.net.setInput(blob)
        rows = np.concatenate(self.net.forward(self.outputs))
        forwarded = time.perf_counter()
        height, width = image.shape[:2]
        probs = rows[:, 5:]
        valid = (rows[:, 4:5] > CONF) & (probs > CONF)
        box_index, class_index = np.nonzero(valid)
        centre, size = rows[box_index, :2], rows[box_index, 2:4]
        corner = (centre - size / 2) * (width, height)
        boxes = np.concatenate([corner, size * (width, height)], axis=1).tolist()
        scores = probs[box_index, class_index].tolist()
        kept = cv2.dnn.NMSBoxesBatched(boxes, scores, class_index.tolist(), CONF, NMS)
        done = time.perf_counter()
        times = {"preprocess": prepared - start, "forward": forwarded - prepared,
                 "decode+nms": done - forwarded}
        return len(kept), times


def candidates(detector: Detector, path: str) -> int:
    """(box, class) pairs above the threshold before NMS."""
    inference = detector.infer(path)
    return sum(int(((c.gate > CONF)[:, None] & (c.probs > CONF)).sum())
               for c in inference.candidates)


def run_ours(detector: Detector, path: str) -> tuple[int, dict[str, float]]:
    inference = detector.infer(path)
    found = detector.detections(inference, CONF, NMS)
    t = inference.timings
    return len(found), {"preprocess": t["preprocess"], "forward": t["forward"],
                        "decode+nms": t["decode"] + t["nms"]}


def median_times(samples: list[dict[str, float]]) -> dict[str, float]:
    stages = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    stages["total"] = statistics.median(sum(s.values()) for s in samples)
    return stages


def describe(name: str, stages: dict[str, float], found: int) -> str:
    parts = ", ".join(f"{key} {value * 1e3:7.1f} ms" for key, value in stages.items())
    return f"  {name:<7} {parts}  ({found} detections)"


def bench_model(name: str, args, folder: str) -> float | None:
    source = ZOO / "cfg" / MODELS[name]
    if not source.is_file():
        print(f"{name}: {source} not found, skipped")
        return None
    cfg = os.path.join(folder, f"{name}-{args.size}.cfg")
    Path(cfg).write_text(cfg_at_size(source.read_text(), args.size))
    network = load_network(cfg)
    weights = os.path.join(folder, f"{name}.weights")
    trained_like_weights(cfg, weights, args.image)
    device = resolve_device(args.device)
    detector = Detector(load_ours(cfg, weights).fuse(), device=device)
    theirs = OpenCVPipeline(cfg, weights, args.size)
    run_ours(detector, args.image)  # warm-up both
    theirs(args.image)
    ours_samples, their_samples, ours_found, their_found = [], [], 0, 0
    for _ in range(args.repeat):
        ours_found, times = run_ours(detector, args.image)
        ours_samples.append(times)
        their_found, times = theirs(args.image)
        their_samples.append(times)
    ours, opencv = median_times(ours_samples), median_times(their_samples)
    ratio = ours["total"] / opencv["total"]
    print(f"{name} {args.size}x{args.size}, random weights, {network.param_count:,} "
          f"parameters, {candidates(detector, args.image)} candidates before NMS; ours on "
          f"{device}, OpenCV DNN on cpu, {args.threads} threads:")
    print(describe("ours", ours, ours_found))
    print(describe("OpenCV", opencv, their_found))
    print(f"  end-to-end ratio ours / OpenCV: {ratio:.2f}x")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ZOO / "data" / "dog.jpg"))
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu", help="our device: cpu, cuda or auto")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    if not os.path.isfile(args.image):
        print(f"image not found: {args.image}", file=sys.stderr)
        return 2
    import cv2

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(f"image {args.image}; torch {torch.__version__}, OpenCV {cv2.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            bench_model(name, args, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
