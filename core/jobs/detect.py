"""Detection jobs: build the detector, run the network once per image, re-filter cached
candidates, draw. `detect` on the command line and the app's preview tab run these."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from darknet_inspector.core.detect import Detection, Detector, Inference, read_names
from darknet_inspector.core.draw import draw_detections
from darknet_inspector.core.image import load_image
from darknet_inspector.core.layers.head import HeadParams
from darknet_inspector.core.model import checked_model
from darknet_inspector.core.network import Network
from darknet_inspector.core.read_ahead import ImageAhead, ReadAhead
from darknet_inspector.core.torch_layers.fastconv import never_pack


@dataclass(frozen=True)
class DetectorKey:
    """What a built detector depends on; a different key means building it again."""

    cfg: str
    weights: str
    names: str | None
    device: str
    letterbox: bool | None
    half: bool = False  # float16 on CUDA


@dataclass
class DetectRequest:
    network: Network
    key: DetectorKey
    image: str
    conf: float
    nms: float
    agnostic: bool = False
    detector: Detector | None = None  # reused when its key matches
    draw: bool = True  # also draw the boxes (DetectOutcome.drawn)
    class_conf: dict[int, float] = field(default_factory=dict)  # per-class thresholds
    ahead: ReadAhead | None = None  # key.weights, already being read (core.read_ahead)
    picture: ImageAhead | None = None  # `image`, already being decoded (core.read_ahead)
    once: bool = False  # a detector built here runs this image only: weights never packed


@dataclass
class Drawn:
    """Detections and the image with them drawn, as RGB bytes ready for a QImage."""

    detections: list[Detection]
    rgb: np.ndarray  # (H, W, 3) uint8, C-contiguous


@dataclass
class DetectOutcome:
    detector: Detector
    key: DetectorKey
    image_path: str
    image: Image.Image
    inference: Inference
    detections: list[Detection]
    drawn: Drawn | None  # None unless the request asked to draw
    notes: list[str] = field(default_factory=list)


def model_classes(network: Network) -> int | None:
    """How many classes the model's heads detect (the largest count); None without heads."""
    counts = [layer.params.classes for layer in network.layers
              if isinstance(layer.params, HeadParams)]
    return max(counts) if counts else None


def build_detector(network: Network, key: DetectorKey, ahead: ReadAhead | None = None
                   ) -> Detector:
    """Load the weights (read here, or by `ahead`, a read of `key.weights` already under
    way) into a model and wrap it in a Detector on the chosen device. Batch norm is folded
    into the convolutions, as Darknet's `detector test` does (`fuse_conv_batchnorm`)
    before it runs: the one place that decision is made."""
    names = read_names(key.names) if key.names else None
    if ahead is None:
        model = checked_model(network, key.weights)
    else:
        read = ahead.result()
        model = checked_model(network, key.weights, read.records, read.header, read.ledger)
    model.fuse(in_place=True)  # its tensors were read for this model alone
    return Detector(model, names, key.device, key.letterbox, key.half)


def draw(image: Image.Image, detections: list[Detection]) -> Drawn:
    picture = draw_detections(image, detections)
    return Drawn(detections, np.ascontiguousarray(np.asarray(picture, dtype=np.uint8)))


def detect(request: DetectRequest) -> Generator[str, None, DetectOutcome]:
    """Yield progress words; return the inference, detections and the drawn image. The
    image is read first: a bad image fails before a long model load."""
    yield f"reading {os.path.basename(request.image)}"
    image = load_image(request.image) if request.picture is None else request.picture.result()
    detector = request.detector
    if detector is None:
        yield f"loading the model on {request.key.device}"
        detector = build_detector(request.network, request.key, request.ahead)
        if request.once:  # packing the weights would cost more than it saves (fastconv)
            never_pack(detector.model)
    yield "running the network"
    inference = detector.infer(image)
    detections = filtered(detector, inference, request.conf, request.nms, request.agnostic,
                          request.class_conf)
    drawn = draw(image, detections) if request.draw else None
    return DetectOutcome(detector, request.key, request.image, image, inference, detections,
                         drawn, list(inference.warnings))


def filtered(detector: Detector, inference: Inference, conf: float, nms: float,
             agnostic: bool = False, class_conf: dict[int, float] | None = None
             ) -> list[Detection]:
    """The detections above `conf`, or above their class's own threshold in `class_conf`
    (class id -> threshold, lower or higher than `conf`). Candidates are decoded at the
    lowest threshold asked for, then each is kept when its class's threshold passes."""
    per_class = class_conf or {}
    lowest = min([conf, *per_class.values()])
    found = detector.detections(inference, lowest, nms, agnostic)
    return [d for d in found if d.confidence > per_class.get(d.class_id, conf)]


def save_drawn(path: str, rgb: np.ndarray) -> None:
    """Write an annotated image (format from the extension: .png, .jpg, ...) atomically."""
    from darknet_inspector.core.atomic import atomic_write
    from darknet_inspector.core.errors import UsageError

    extension = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(extension)
    if fmt is None:
        raise UsageError(f"{path}: unknown image extension {extension!r}; use .png or .jpg")
    with atomic_write(path) as out:
        Image.fromarray(rgb).save(out, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))


def refilter(detector: Detector, inference: Inference, image: Image.Image, conf: float,
             nms: float, agnostic: bool = False, class_conf: dict[int, float] | None = None
             ) -> Generator[str, None, Drawn]:
    """New thresholds on the cached candidates: no network run."""
    yield "filtering"
    return draw(image, filtered(detector, inference, conf, nms, agnostic, class_conf))
