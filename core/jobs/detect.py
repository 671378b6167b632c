"""Detection jobs: build the detector, run the network once per image, re-filter cached
candidates, draw. `detect` on the command line and the app's preview tab run these. The
network runs on torch, or on the CPU without torch (core.numpy_engine) when the key asks
for that engine or leaves the choice to us (`chosen_engine`)."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from darknet_inspector.core.detect import Detection, Detector, Inference, read_names
from darknet_inspector.core.draw import draw_detections
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.image import load_image
from darknet_inspector.core.layers.head import HeadParams
from darknet_inspector.core.network import Network
from darknet_inspector.core.read_ahead import ImageAhead, ReadAhead
from darknet_inspector.core.report import checked_records

ENGINES = ("auto", "numpy", "torch")


@dataclass(frozen=True)
class DetectorKey:
    """What a built detector depends on; a different key means building it again."""

    cfg: str
    weights: str
    names: str | None
    device: str
    letterbox: bool | None
    half: bool = False  # float16 on CUDA
    engine: str = "torch"  # ENGINES: "auto" runs numpy on the CPU when it runs every layer


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


def chosen_engine(network: Network, key: DetectorKey) -> str:
    """"numpy" or "torch" for this key: `auto` takes numpy (no torch import, issue 15) on
    the CPU when core.numpy_engine runs every layer of the network, else torch; `numpy`
    refuses (UsageError, naming the layer) a network or device it cannot run."""
    if key.engine not in ENGINES:
        raise UsageError(f"unknown engine {key.engine!r}: use {', '.join(ENGINES)}")
    if key.engine == "torch":
        return "torch"
    from darknet_inspector.core.numpy_engine import numpy_engine_refusal

    refusal = (numpy_engine_refusal(network) if key.device == "cpu" else
               f"it runs on the CPU only, not {key.device}")
    if refusal is None:
        return "numpy"
    if key.engine == "numpy":
        raise UsageError(f"the numpy engine cannot run this model: {refusal}; use --engine "
                         "torch")
    return "torch"


def build_detector(network: Network, key: DetectorKey, ahead: ReadAhead | None = None,
                   once: bool = False) -> Detector:
    """Load the weights (read here, or by `ahead`, a read of `key.weights` already under
    way) into a model on the chosen engine and wrap it in a Detector. Batch norm is folded
    into the convolutions, as Darknet's `detector test` does (`fuse_conv_batchnorm`)
    before it runs: the one place that decision is made. `once`: the detector runs one
    image, so torch's weights are never packed (core.torch_layers.fastconv)."""
    names = read_names(key.names) if key.names else None
    engine = chosen_engine(network, key)
    if engine == "torch":  # torch's import runs while `ahead` reads the weights
        from darknet_inspector.core.model import model_from_records
        from darknet_inspector.core.torch_layers.fastconv import never_pack
    else:
        from darknet_inspector.core.numpy_engine import NumpyNetwork
    read = ahead.result() if ahead is not None else None
    records, header = checked_records(network, key.weights,
                                      *((read.records, read.header, read.ledger) if read
                                        else ()))
    if engine == "numpy":
        return Detector(NumpyNetwork(network, records, header.transposed if header else False),
                        names, "cpu", key.letterbox, key.half)
    model = model_from_records(network, records, header)
    model.fuse(in_place=True)  # its tensors were read for this model alone
    detector = Detector(model, names, key.device, key.letterbox, key.half)
    if once:  # packing the weights would cost more than it saves (fastconv)
        never_pack(model)
    return detector


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
        detector = build_detector(request.network, request.key, request.ahead,
                                  request.once)
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
