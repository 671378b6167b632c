"""Load and run full-size YOLOv4 at 416x416; print our times against the floor and OpenCV.

    .venv/bin/python bench/bench_load.py [--cfg CFG] [--size 416] [--repeat 5] [--threads N]
                                         [--numpy]

Writes random weights for the cfg with our writer to a temp file (~258 MB for yolov4),
then, alternating ours and the reference in every round so the page cache and the machine
load treat both alike, measures:

- parse+build: cfg text -> Network (shapes, weight layout, diagnostics);
- load: model construction + streaming reader + copying every tensor into the model,
  against `numpy.fromfile` of the same file (the read floor);
- forward: one 1x3xHxW forward pass (BN folded, as Darknet's detector runs), against
  OpenCV DNN's Darknet importer on the same input with the same number of threads.

- with --numpy: the torch-free engine (core.numpy_engine, what CPU `detect` runs without
  importing torch) on the same input with the same threads: its build (BN folding and
  weight layout) and forward, against OpenCV and against our torch forward.

Targets: load <= 1.3x the floor, parse+build < 0.1 s, forward <= 1.0x OpenCV; numpy
forward <= 1.3x our torch forward.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does; see bench/README.md

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darknet_inspector.core.model import DarknetModel  # noqa: E402
from darknet_inspector.core.network import load_network  # noqa: E402
from darknet_inspector.core.numpy_engine import NumpyNetwork  # noqa: E402
from darknet_inspector.core.weights import WeightsReader, random_weights, write_weights  # noqa: E402

DEFAULT_CFG = ROOT.parent / "shared" / "zoo" / "cfg" / "yolov4.cfg"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def load_ours(cfg: str, weights: str, size: int) -> DarknetModel:
    network = load_network(cfg, size, size)
    model = DarknetModel(network).eval()
    reader = WeightsReader(network, weights, copy=True)
    model.load_records(reader.records(), reader.header.transposed)
    return model


def _synced(outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    if outputs and outputs[0].is_cuda:
        torch.cuda.synchronize()
    return outputs


def load_floor(weights: str) -> np.ndarray:
    return np.fromfile(weights, dtype=np.float32)


def summary(name: str, ours: list[float], ref: list[float] | None = None,
            ref_name: str = "") -> str:
    line = f"{name:<12} median {statistics.median(ours):8.4f} s  (min {min(ours):.4f})"
    if ref:
        ratio = statistics.median(ours) / statistics.median(ref)
        line += (f"   {ref_name} median {statistics.median(ref):.4f} s (min {min(ref):.4f})"
                 f"   ratio {ratio:.2f}x (of mins {min(ours) / min(ref):.2f}x)")
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", default=str(DEFAULT_CFG))
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-opencv", action="store_true", help="skip the OpenCV comparison")
    parser.add_argument("--nchw", action="store_true",
                        help="run the forward in NCHW (default: channels_last on CPU)")
    parser.add_argument("--device", default="cpu", help="run our forward on this device")
    parser.add_argument("--numpy", action="store_true",
                        help="also time the torch-free numpy engine (core.numpy_engine)")
    args = parser.parse_args()
    if not os.path.isfile(args.cfg):
        print(f"cfg not found: {args.cfg}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)

    network = load_network(args.cfg, args.size, args.size)
    with tempfile.TemporaryDirectory() as folder:
        weights = os.path.join(folder, "bench.weights")
        write_weights(weights, network, random_weights(network, seed=0))
        file_mb = os.path.getsize(weights) / 1e6
        print(f"{os.path.basename(args.cfg)} at {args.size}x{args.size}: "
              f"{len(network.layers)} layers, {network.param_count:,} parameters, "
              f"weights {file_mb:.1f} MB; torch {torch.__version__}, {args.threads} threads")

        build_times = [timed(lambda: load_network(args.cfg, args.size, args.size))[0]
                       for _ in range(args.repeat)]
        print(summary("parse+build", build_times))

        ours, floor = [], []
        model = None
        for _ in range(args.repeat):
            floor.append(timed(lambda: load_floor(weights))[0])
            seconds, model = timed(lambda: load_ours(args.cfg, weights, args.size))
            ours.append(seconds)
        print(summary("load", ours, floor, "np.fromfile"))

        model.fuse()
        model.channels_last = not args.nchw
        x = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
        ours_x = x.to(args.device)
        model.to(args.device)
        with torch.inference_mode():
            model(ours_x)  # warm-up
        cv_net = None
        if not args.no_opencv:
            import cv2

            cv2.setNumThreads(args.threads)
            cv_net = cv2.dnn.readNetFromDarknet(args.cfg, weights)
            cv_net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            cv_net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            cv_outputs = cv_net.getUnconnectedOutLayersNames()
            cv_net.setInput(x.numpy())
            cv_net.forward(cv_outputs)  # warm-up
        engine = None
        if args.numpy:
            reader = WeightsReader(network, weights, copy=True)
            read = reader.read_all()
            build_s, engine = timed(lambda: NumpyNetwork(network, read, reader.header.transposed,
                                                         threads=args.threads))
            print(f"numpy build  {build_s:8.4f} s  (BN folded, weights laid out for NHWC)")
            engine.forward(x[0].numpy())  # warm-up
        ours, theirs, mine = [], [], []
        for _ in range(args.repeat):
            with torch.inference_mode():
                ours.append(timed(lambda: _synced(model(ours_x)))[0])
            if cv_net is not None:
                cv_net.setInput(x.numpy())
                theirs.append(timed(lambda: cv_net.forward(cv_outputs))[0])
            if engine is not None:
                mine.append(timed(lambda: engine.forward(x[0].numpy()))[0])
        print(summary("forward", ours, theirs or None, "OpenCV DNN"))
        if engine is not None:
            print(summary("numpy fwd", mine, theirs or None, "OpenCV DNN"))
            print(summary("numpy fwd", mine, ours, "torch"))
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
