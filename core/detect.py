"""Detection preview: what Darknet's `detector test` does after the network.

Head outputs (as `DarknetModel.forward` returns them, activations applied) are decoded
into candidate boxes once per image (`Detector.infer`); thresholds and NMS then run on
the cached candidates (`Detector.detections`), so a slider never re-runs the network.
The network runs on an engine: the torch model on its device (core.torch_engine) or, on
the CPU without torch, core.numpy_engine; decoding and NMS are numpy, the same for both.
This module never imports torch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from darknet_inspector.core.decoding import Decoded, HeadDecoder, decoded_types, head_decoder
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.image import (
    darknet_letterbox,
    darknet_resize,
    image_to_chw,
    letterbox_size,
    load_image,
    to_rgb8,
)
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.head import HeadParams
from darknet_inspector.core.nms import descending, greedy_nms

Size = tuple[int, int]
MAX_NMS_CANDIDATES = 20000  # an untrained model can put 10^5 pairs over the threshold


@dataclass(frozen=True)
class Detection:
    """One (box, class) Darknet reports; box is x1, y1, x2, y2 in original image pixels."""

    class_id: int
    name: str
    confidence: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        return {"class_id": self.class_id, "name": self.name,
                "confidence": self.confidence, "box": list(self.box)}


@dataclass
class Inference:
    """One image run through the network, with its candidates cached for `detections`."""

    image_size: Size
    input_size: Size
    letterbox: bool
    device: str
    candidates: list[Decoded]
    nms_kind: str = "default"
    beta_nms: float = 0.6
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    engine: str = "torch"  # what ran the network: "torch" or "numpy"


class Engine(Protocol):
    """What runs the network for a Detector: one (3, H, W) float32 input -> each head's
    output (C, H, W) float32 on the CPU, in the model's head order."""

    name: str
    device: Any  # shown as str(device): "cpu", "cuda:0"
    notes: list[str]  # said once per inference (e.g. no half precision on the CPU)

    def forward(self, chw: np.ndarray, notes: list[str]) -> list[np.ndarray]: ...


# ---------------------------------------------------------------- head decoding

def decodable_types() -> list[str]:
    """The head types the preview decodes (each has a HeadDecoder, core.decoding)."""
    return decoded_types()


def correct_boxes(boxes: np.ndarray, image_size: Size, input_size: Size, letterbox: bool
                  ) -> np.ndarray:
    """`correct_yolo_boxes` (src/yolo_layer.c): network-relative boxes -> image-relative;
    only a letterboxed input moves them (the padding is taken off and the scale undone)."""
    if not letterbox:
        return boxes
    net_w, net_h = input_size
    new_w, new_h = letterbox_size(image_size[0], image_size[1], net_w, net_h)
    ratio = np.asarray([new_w / net_w, new_h / net_h], dtype=boxes.dtype)
    shift = np.asarray([(net_w - new_w) / 2.0 / net_w, (net_h - new_h) / 2.0 / net_h],
                       dtype=boxes.dtype)
    return np.concatenate([(boxes[:, :2] - shift) / ratio, boxes[:, 2:] / ratio], axis=1)


def non_finite_note(outputs: list[np.ndarray]) -> str | None:
    """A warning when the head outputs hold NaN/Inf (NaN or Inf weights propagate): NMS
    drops NaN scores silently, so "0 detections" alone would hide it."""
    bad = sum(int(o.size - np.count_nonzero(np.isfinite(o))) for o in outputs)
    if not bad:
        return None
    total = sum(o.size for o in outputs)
    return (f"{bad:,} of {total:,} head output values are NaN or Inf (the weights hold "
            "NaN/Inf: `inspect` flags those tensors); the detections are meaningless")


# ---------------------------------------------------------------- names

def read_names(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (coco.names style); trailing blank lines dropped."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            names = [line.strip() for line in handle.read().splitlines()]
    except OSError as exc:
        raise UsageError(f"{os.fspath(path)}: cannot read names file "
                         f"({exc.strerror or exc})") from None
    while names and not names[-1]:
        names.pop()
    if not names:
        raise UsageError(f"{os.fspath(path)}: names file has no names")
    return names


def parse_class_thresholds(items: Iterable[str], names: list[str] | None
                           ) -> dict[int, float]:
    """Per-class confidence thresholds, `dog=0.6` or `3=0.1` (class name or id), as class
    id -> threshold; the CLI's `--class-conf` and the preview's box share it. A ValueError
    names the entry that cannot be read."""
    found: dict[int, float] = {}
    for item in items:
        name, _, value = item.rpartition("=")
        name = name.strip()
        try:
            threshold = float(value)
        except ValueError:
            raise ValueError(f"{item!r}: write NAME=THRESHOLD, e.g. dog=0.6") from None
        if not name or not 0 < threshold < 1:
            raise ValueError(f"{item!r}: write NAME=THRESHOLD with 0 < THRESHOLD < 1")
        if names and name in names:
            found[names.index(name)] = threshold
        elif name.isdigit():
            found[int(name)] = threshold
        else:
            raise ValueError(f"{item!r}: no class called {name!r}")
    return found


# ---------------------------------------------------------------- the detector

class NumpyEngine:
    """A core.numpy_engine.NumpyNetwork: the CPU, float32, no torch."""

    name = "numpy"

    def __init__(self, network: Any, device: Any = "cpu", half: bool = False):
        if str(device) != "cpu":
            raise UsageError(f"the numpy engine runs on the CPU only, not {device}; use the "
                             "torch engine for a GPU")
        self.network = network
        self.device = "cpu"
        self.notes = ["half precision needs a CUDA device; running in float32"] if half else []

    def forward(self, chw: np.ndarray, notes: list[str]) -> list[np.ndarray]:
        return self.network.forward(chw)


def forward_engine(model: Any, device: Any = "cpu", half: bool = False) -> Engine:
    """The engine that runs `model`: a core.numpy_engine.NumpyNetwork runs itself on the
    CPU (torch never imported); a DarknetModel runs on `device` (core.torch_engine)."""
    from darknet_inspector.core.numpy_engine import NumpyNetwork

    if isinstance(model, NumpyNetwork):
        return NumpyEngine(model, device, half)
    from darknet_inspector.core.torch_engine import TorchEngine

    return TorchEngine(model, device, half)


class Detector:
    """Load once, detect many times: `infer` runs preprocessing and the network once per
    image; `detections` applies thresholds and NMS to the cached candidates.

    `model`: a DarknetModel (put in eval mode and moved to `device`, in place) or a
    core.numpy_engine.NumpyNetwork (CPU only).
    """

    def __init__(self, model: Any, names: list[str] | None = None, device: Any = "cpu",
                 letterbox: bool | None = None, half: bool = False):
        network = model.network
        self.heads = [network.layers[i] for i in network.heads]
        self.head_types = _decoding_types(self.heads)
        if network.net.channels != 3:
            raise UsageError(f"{network.path}: the network takes {network.net.channels} "
                             "input channels; detection preview needs an RGB (channels=3) "
                             "network")
        self.engine = forward_engine(model, device, half)
        self.model = model
        self.device = self.engine.device
        self.names = list(names) if names else None
        self.input_size: Size = (network.net.width, network.net.height)
        self.letterbox = bool(network.net.letter_box if letterbox is None else letterbox)

    @property
    def classes(self) -> int:
        return max(layer.params_as(HeadParams).classes for layer in self.heads)

    def name_of(self, class_id: int) -> str:
        if self.names and class_id < len(self.names):
            return self.names[class_id]
        return str(class_id)

    def preprocess(self, image: str | os.PathLike | Image.Image) -> tuple[np.ndarray, Size]:
        """Image -> the network input (float32 CHW) and the original (width, height)."""
        picture = to_rgb8(image) if isinstance(image, Image.Image) else load_image(image)
        chw = image_to_chw(picture)
        resize = darknet_letterbox if self.letterbox else darknet_resize
        return resize(chw, *self.input_size), picture.size

    def infer(self, image: str | os.PathLike | Image.Image) -> Inference:
        """Preprocess, run the network once and decode every head's candidates."""
        start = time.perf_counter()
        chw, image_size = self.preprocess(image)
        preprocessed = time.perf_counter()
        notes = list(self.engine.notes)
        outputs = self.engine.forward(chw, notes)
        note = non_finite_note(outputs)
        if note:
            notes.append(note)
        forwarded = time.perf_counter()
        candidates = []
        with np.errstate(over="ignore", invalid="ignore"):  # exp of an untrained head
            for layer, head, output in zip(self.heads, self.head_types, outputs):
                decoded = head.decode(layer, output, self.input_size)
                decoded.boxes = correct_boxes(decoded.boxes, image_size, self.input_size,
                                              self.letterbox)
                candidates.append(decoded)
        decoded_at = time.perf_counter()
        last = self.heads[-1].params_as(HeadParams)
        return Inference(
            image_size=image_size, input_size=self.input_size, letterbox=self.letterbox,
            device=str(self.device), candidates=candidates,
            nms_kind=last.nms_kind, beta_nms=last.beta_nms,
            timings={"preprocess": preprocessed - start, "forward": forwarded - preprocessed,
                     "decode": decoded_at - forwarded},
            warnings=notes, engine=self.engine.name)

    def detections(self, inference: Inference, conf: float = 0.25, nms: float = 0.45,
                   agnostic: bool = False, max_candidates: int = MAX_NMS_CANDIDATES
                   ) -> list[Detection]:
        """Darknet's thresholds and NMS on cached candidates (no network re-run):
        a (box, class) pair counts when gate > conf and prob > conf; NMS with the last
        head's `nms_kind` unless nms <= 0; sorted by confidence, highest first."""
        start = time.perf_counter()
        boxes, scores, classes = _pairs_above(inference.candidates, conf)
        boxes, scores, classes = _most_confident(boxes, scores, classes, max_candidates,
                                                 inference)
        if nms > 0:
            keep = greedy_nms(boxes, scores, classes, nms, inference.nms_kind,
                              inference.beta_nms, agnostic)
        else:
            keep = descending(scores)
        found = self._records(boxes[keep], scores[keep], classes[keep], inference.image_size)
        inference.timings["nms"] = time.perf_counter() - start
        return found

    def _records(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                 image_size: Size) -> list[Detection]:
        width, height = image_size
        scale = np.asarray([width, height, width, height], dtype=np.float64)
        centre, size = boxes[:, :2].astype(np.float64), boxes[:, 2:].astype(np.float64)
        corners = (np.concatenate([centre - size / 2, centre + size / 2], axis=1)
                   * scale).tolist()
        return [Detection(int(c), self.name_of(int(c)), float(s), tuple(box))
                for c, s, box in zip(classes.tolist(), scores.tolist(), corners)]


def _most_confident(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, limit: int,
                    inference: Inference) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep NMS bounded: Darknet's O(n^2) sweep over 10^5 pairs (an untrained or broken
    model) takes minutes, so only the `limit` most confident pairs go on, and we say so."""
    if scores.size <= limit:
        return boxes, scores, classes
    note = (f"{scores.size:,} (box, class) pairs pass the threshold, which a trained "
            f"model rarely gives; only the {limit:,} most confident go through NMS")
    if note not in inference.warnings:
        inference.warnings.append(note)
    top = np.sort(np.argpartition(-scores, limit - 1)[:limit])
    return boxes[top], scores[top], classes[top]


def _decoding_types(heads: list[Layer]) -> list[HeadDecoder]:
    """Each head's decoder; say which head has none."""
    types = []
    for layer in heads:
        head = head_decoder(layer.type)
        if head is None:
            kinds = ", ".join(f"[{t}]" for t in decodable_types())
            raise UsageError(
                f"layer {layer.index} ([{layer.section.name}], cfg line {layer.line}) is not "
                f"a detection head this preview decodes ({kinds}); this model is not a "
                "supported detector")
        types.append(head)
    return types


def _pairs_above(candidates: list[Decoded], conf: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (box, class) with gate > conf and prob > conf, as `get_yolo_detections` and
    `get_region_boxes` keep them: boxes (n, 4), scores (n,), class ids (n,)."""
    boxes, scores, classes = [], [], []
    for decoded in candidates:
        valid = (decoded.gate > conf)[:, None] & (decoded.probs > conf)
        box_index, class_index = np.nonzero(valid)
        boxes.append(decoded.boxes[box_index])
        scores.append(decoded.probs[box_index, class_index])
        classes.append(class_index)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
