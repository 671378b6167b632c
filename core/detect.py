"""Detection preview: what Darknet's `detector test` does after the network.

Head outputs (as `DarknetModel.forward` returns them, activations applied) are decoded
into candidate boxes once per image (`Detector.infer`); thresholds and NMS then run on
the cached candidates (`Detector.detections`), so a slider never re-runs the network.
Everything stays on the chosen torch device.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import Tensor

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
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.nms import greedy_nms
from darknet_inspector.core.torch_layers import decoded_types, head_decoder
from darknet_inspector.core.torch_layers.head import Decoded, HeadDecoder

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


# ---------------------------------------------------------------- head decoding

def decodable_types() -> list[str]:
    """The head types the preview decodes (each has a HeadDecoder, core.torch_layers)."""
    return decoded_types()


def correct_boxes(boxes: Tensor, image_size: Size, input_size: Size, letterbox: bool
                  ) -> Tensor:
    """`correct_yolo_boxes` (src/yolo_layer.c): network-relative boxes -> image-relative;
    only a letterboxed input moves them (the padding is taken off and the scale undone)."""
    if not letterbox:
        return boxes
    net_w, net_h = input_size
    new_w, new_h = letterbox_size(image_size[0], image_size[1], net_w, net_h)
    ratio = torch.tensor([new_w / net_w, new_h / net_h], dtype=boxes.dtype,
                         device=boxes.device)
    shift = torch.tensor([(net_w - new_w) / 2.0 / net_w, (net_h - new_h) / 2.0 / net_h],
                         dtype=boxes.dtype, device=boxes.device)
    return torch.cat([(boxes[:, :2] - shift) / ratio, boxes[:, 2:] / ratio], dim=1)


# ---------------------------------------------------------------- devices and names

def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, in one line, or None when it can."""
    if torch.version.cuda is None:
        return (f"this PyTorch ({torch.__version__}) is built without CUDA support; "
                "install a CUDA build of torch to use a GPU")
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return (f"PyTorch (CUDA {torch.version.cuda}) finds no usable NVIDIA GPU: no device "
                "is visible or its driver is missing")
    return None


def resolve_device(spec: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:N` or `auto` -> a torch device; UsageError (one line) if the
    device is not there."""
    text = str(spec).strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda", 0) if cuda_unavailable_reason() is None else torch.device(
            "cpu")
    if text == "cuda" or text.startswith("cuda:"):
        reason = cuda_unavailable_reason()
        if reason:
            raise UsageError(f"cannot use device {spec!r}: {reason}")
        index_text = text.partition(":")[2] or "0"
        count = torch.cuda.device_count()
        if not index_text.isdigit() or int(index_text) >= count:
            raise UsageError(f"cannot use device {spec!r}: there are {count} CUDA devices "
                             f"(cuda:0 .. cuda:{count - 1})")
        return torch.device("cuda", int(index_text))
    raise UsageError(f"unknown device {spec!r}: use cpu, cuda, cuda:N or auto")


def available_devices() -> list[tuple[str, str | None]]:
    """Devices to offer: ("cpu", None), then ("cuda:N", None) each, or ("cuda", reason)."""
    devices: list[tuple[str, str | None]] = [("cpu", None)]
    reason = cuda_unavailable_reason()
    if reason:
        return devices + [("cuda", reason)]
    return devices + [(f"cuda:{i}", None) for i in range(torch.cuda.device_count())]


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

class Detector:
    """Load once, detect many times: `infer` runs preprocessing and the network once per
    image; `detections` applies thresholds and NMS to the cached candidates.

    The model is put in eval mode and moved to `device` (in place).
    """

    def __init__(self, model: DarknetModel, names: list[str] | None = None,
                 device: str | torch.device = "cpu", letterbox: bool | None = None,
                 half: bool = False):
        network = model.network
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.heads = [network.layers[i] for i in model.heads]
        self.head_types = _decoding_types(self.heads)
        if network.net.channels != 3:
            raise UsageError(f"{network.path}: the network takes {network.net.channels} "
                             "input channels; detection preview needs an RGB (channels=3) "
                             "network")
        self.model = model.eval().to(self.device)
        self.names = list(names) if names else None
        self.input_size: Size = (network.net.width, network.net.height)
        self.letterbox = bool(network.net.letter_box if letterbox is None else letterbox)
        self.half = half and self.device.type == "cuda"
        self.notes: list[str] = []
        if half and not self.half:
            self.notes.append("half precision needs a CUDA device; running in float32")
        self._half_model: DarknetModel | None = None

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
        x = torch.from_numpy(chw)[None].to(self.device)
        preprocessed = self._now()
        notes = list(self.notes)
        outputs = self._forward(x, notes)
        forwarded = self._now()
        candidates = []
        for layer, head, output in zip(self.heads, self.head_types, outputs):
            decoded = head.decode(layer, output[0].float(), self.input_size)
            decoded.boxes = correct_boxes(decoded.boxes, image_size, self.input_size,
                                          self.letterbox)
            candidates.append(decoded)
        decoded_at = self._now()
        last = self.heads[-1].params_as(HeadParams)
        return Inference(
            image_size=image_size, input_size=self.input_size, letterbox=self.letterbox,
            device=str(self.device), candidates=candidates,
            nms_kind=last.nms_kind, beta_nms=last.beta_nms,
            timings={"preprocess": preprocessed - start, "forward": forwarded - preprocessed,
                     "decode": decoded_at - forwarded},
            warnings=notes)

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
            keep = torch.argsort(scores, descending=True, stable=True)
        found = self._records(boxes[keep], scores[keep], classes[keep], inference.image_size)
        inference.timings["nms"] = time.perf_counter() - start
        return found

    def _records(self, boxes: Tensor, scores: Tensor, classes: Tensor, image_size: Size
                 ) -> list[Detection]:
        width, height = image_size
        scale = torch.tensor([width, height, width, height], dtype=torch.float64)
        centre, size = boxes[:, :2].double().cpu(), boxes[:, 2:].double().cpu()
        corners = (torch.cat([centre - size / 2, centre + size / 2], dim=1) * scale).tolist()
        return [Detection(int(c), self.name_of(int(c)), float(s), tuple(box))
                for c, s, box in zip(classes.tolist(), scores.tolist(), corners)]

    def _forward(self, x: Tensor, notes: list[str]) -> list[Tensor]:
        with torch.inference_mode():
            if self.half:
                if self._half_model is None:
                    self._half_model = copy.deepcopy(self.model).half()
                outputs = [o.float() for o in self._half_model(x.half())]
                if all(bool(torch.isfinite(o).all()) for o in outputs):
                    return outputs
                notes.append("half precision gave NaN/Inf in the head outputs; "
                             "ran again in float32")
            outputs = list(self.model(x))
        note = non_finite_note(outputs)
        if note:
            notes.append(note)
        return outputs

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def non_finite_note(outputs: list[Tensor]) -> str | None:
    """A warning when the head outputs hold NaN/Inf (NaN or Inf weights propagate): NMS
    drops NaN scores silently, so "0 detections" alone would hide it."""
    bad = sum(int((~torch.isfinite(o)).sum()) for o in outputs)
    if not bad:
        return None
    total = sum(o.numel() for o in outputs)
    return (f"{bad:,} of {total:,} head output values are NaN or Inf (the weights hold "
            "NaN/Inf: `inspect` flags those tensors); the detections are meaningless")


def _most_confident(boxes: Tensor, scores: Tensor, classes: Tensor, limit: int,
                    inference: Inference) -> tuple[Tensor, Tensor, Tensor]:
    """Keep NMS bounded: Darknet's O(n^2) sweep over 10^5 pairs (an untrained or broken
    model) takes minutes, so only the `limit` most confident pairs go on, and we say so."""
    if scores.numel() <= limit:
        return boxes, scores, classes
    note = (f"{scores.numel():,} (box, class) pairs pass the threshold, which a trained "
            f"model rarely gives; only the {limit:,} most confident go through NMS")
    if note not in inference.warnings:
        inference.warnings.append(note)
    top = torch.topk(scores, limit).indices
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


def _pairs_above(candidates: list[Decoded], conf: float) -> tuple[Tensor, Tensor, Tensor]:
    """Every (box, class) with gate > conf and prob > conf, as `get_yolo_detections` and
    `get_region_boxes` keep them: boxes (n, 4), scores (n,), class ids (n,)."""
    boxes, scores, classes = [], [], []
    for decoded in candidates:
        valid = (decoded.gate > conf)[:, None] & (decoded.probs > conf)
        box_index, class_index = torch.nonzero(valid, as_tuple=True)
        boxes.append(decoded.boxes[box_index])
        scores.append(decoded.probs[box_index, class_index])
        classes.append(class_index)
    return torch.cat(boxes), torch.cat(scores), torch.cat(classes)
