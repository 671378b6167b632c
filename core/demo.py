"""The demo detector shipped in resources/demo/, and its broken twin made at run time.

The demo is a small yolov4-tiny-like network of our own (scripts/train_demo.py trains
it on drawn shapes): `demo_files()` names its cfg, weights, class names, sample image
and the sample's ground truth. `make_broken_demo(folder)` writes the twin that shows
what the debugging view is for: one [yolo] head's `classes` changed without its conv's
`filters`, and the weights file cut short inside a middle layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.cfg import read_cfg
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network, build_network
from darknet_inspector.core.weights import parse_header, tensor_offsets
from darknet_inspector.resources import resource_path

DEMO_DIR = resource_path("demo")
BROKEN_CLASSES = 5
BROKEN_CFG_NOTE = (
    "# Broken on purpose by Darknet Inspector (Help -> Open broken demo): a copy of the\n"
    "# demo whose cfg and weights no longer agree. Open it and read the Problems panel.\n"
)


@dataclass(frozen=True)
class DemoFiles:
    cfg: Path
    weights: Path
    names: Path
    image: Path
    truth: Path  # Darknet label format beside the image: `class cx cy w h`, normalised


@dataclass(frozen=True)
class TruthBox:
    """One ground-truth object of the sample image, box in image pixels."""

    class_id: int
    name: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2


def demo_files(folder: str | os.PathLike | None = None) -> DemoFiles:
    """Paths of the bundled demo (they may be missing in a stripped install)."""
    root = Path(folder) if folder is not None else DEMO_DIR
    return DemoFiles(root / "demo.cfg", root / "demo.weights", root / "demo.names",
                     root / "sample.jpg", root / "sample.txt")


def demo_available() -> bool:
    files = demo_files()
    return all(p.is_file() for p in (files.cfg, files.weights, files.names, files.image))


def read_ground_truth(labels: str | os.PathLike, width: int, height: int,
                      names: list[str] | None = None) -> list[TruthBox]:
    """Darknet label lines (`class cx cy w h`, normalised to 0..1) -> boxes in pixels of
    a `width` x `height` image."""
    boxes = []
    for number, line in enumerate(Path(labels).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise InspectorError(f"{labels}:{number}: expected `class cx cy w h`, "
                                 f"found {line!r}")
        cls = int(fields[0])
        cx, cy, w, h = (float(v) for v in fields[1:])
        name = names[cls] if names and cls < len(names) else str(cls)
        boxes.append(TruthBox(cls, name, ((cx - w / 2) * width, (cy - h / 2) * height,
                                          (cx + w / 2) * width, (cy + h / 2) * height)))
    return boxes


def first_head(network: Network) -> Layer:
    """The first [yolo] layer (the one whose classes the broken twin changes)."""
    return next(layer for layer in network.layers if layer.type == "yolo")


def middle_weighted_layer(network: Network) -> Layer:
    """The layer with weights nearest the middle of the network (where the twin's
    weights file is cut)."""
    middle = len(network.layers) / 2
    weighted = [layer for layer in network.layers if layer.weights]
    return min(weighted, key=lambda layer: abs(layer.index - middle))


def broken_cfg_text(cfg_path: str | os.PathLike) -> str:
    """The demo cfg with the first head's `classes=` raised by one (filters untouched),
    behind a two-line note; every other line is kept as it is."""
    cfg = read_cfg(cfg_path)
    head = first_head(build_network(cfg))
    lines = cfg.lines()
    lines[head.section.line_of("classes") - 1] = f"classes={BROKEN_CLASSES}"
    text = "\n".join(lines)
    return BROKEN_CFG_NOTE + (text if text.endswith("\n") else text + "\n")


def truncated_length(network: Network, weights_path: str | os.PathLike) -> int:
    """Bytes to keep so that the file ends halfway through the middle layer's `weights`
    tensor (a float boundary, as a copy interrupted mid-layer would)."""
    with open(weights_path, "rb") as handle:
        header = parse_header(handle.read(20), os.fspath(weights_path))
    cut = middle_weighted_layer(network)
    offset = tensor_offsets(network, header.size).get((cut.index, "weights"))
    spec = next((spec for spec in cut.weights if spec.name == "weights"), None)
    if offset is None or spec is None:
        raise InspectorError(f"layer {cut.index} has no `weights` tensor to cut")
    return offset + (spec.count // 2) * 4


def make_broken_demo(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write `demo-broken.cfg` and `demo-broken.weights` (plus `demo-broken.names`, so
    the names sit beside the cfg) into `folder`, e.g. a temp folder, from the bundled
    demo; returns the cfg and weights paths. The bundled files are only read."""
    files = demo_files()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path, weights_path = folder / "demo-broken.cfg", folder / "demo-broken.weights"
    with atomic_write(cfg_path) as out:
        out.write(broken_cfg_text(files.cfg).encode("utf-8"))
    with atomic_write(folder / "demo-broken.names") as out:
        out.write(files.names.read_bytes())
    keep = truncated_length(build_network(read_cfg(files.cfg)), files.weights)
    with open(files.weights, "rb") as handle:
        data = handle.read(keep)
    with atomic_write(weights_path) as out:
        out.write(data)
    return cfg_path, weights_path
