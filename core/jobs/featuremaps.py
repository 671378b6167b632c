"""The feature-maps job: one forward pass over the preview image that keeps what the
feature-map views need (core.featuremaps: stats, energy, objectness, thumbnails, the full
output of the layers asked for) and drops each output once its readers ran. It runs on
the detector's device (the preview's), one layer per progress record, so a worker can
cancel between two layers. `featuremaps` on the command line and the app run it."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field

import torch
from PIL import Image

from darknet_inspector.core.decoding import head_decoder
from darknet_inspector.core.detect import Detector
from darknet_inspector.core.featuremaps import (
    DEFAULT_BUDGET_BYTES,
    FeatureMaps,
    LayerMaps,
    summarise,
    thumbnail_side,
)
from darknet_inspector.core.image import load_image
from darknet_inspector.core.jobs.detect import DetectorKey, build_detector
from darknet_inspector.core.layers.base import as_chw
from darknet_inspector.core.network import Network


@dataclass
class FeatureMapsRequest:
    """The preview's detector (its model and device), or a network and key to build one."""

    image: str | Image.Image
    detector: Detector | None = None
    network: Network | None = None
    key: DetectorKey | None = None
    full_layers: set[int] = field(default_factory=set)
    budget_bytes: int = DEFAULT_BUDGET_BYTES


@dataclass(frozen=True)
class FeatureMapsProgress:
    layer: int
    layers: int


@dataclass
class FeatureMapsOutcome:
    maps: FeatureMaps
    image: Image.Image


def feature_maps(request: FeatureMapsRequest
                 ) -> Generator[FeatureMapsProgress, None, FeatureMapsOutcome]:
    """Run the network once on the image; yield after each layer; return the maps.
    The image is read first: a bad image fails before a long model load."""
    image = request.image if isinstance(request.image, Image.Image) else load_image(
        os.fspath(request.image))
    detector = request.detector
    if detector is None:
        if request.network is None or request.key is None:
            raise ValueError("a feature-maps request needs a detector or a network and key")
        yield FeatureMapsProgress(-1, len(request.network.layers))
        detector = build_detector(request.network, request.key)
    chw, image_size = detector.preprocess(image)
    network = detector.model.network
    side = thumbnail_side(sum(as_chw(layer.built_shape)[0] for layer in network.layers),
                          request.budget_bytes)
    maps = FeatureMaps(image_size=image_size, input_size=detector.input_size,
                       device=str(detector.device), side=side)
    x = torch.from_numpy(chw)[None].to(detector.device)
    total = len(network.layers)
    with torch.no_grad():
        for index, output in detector.model.outputs_in_turn(x):
            maps.layers[index] = layer_maps(network.layers[index], output[0], side,
                                            index in request.full_layers)
            yield FeatureMapsProgress(index, total)
    return FeatureMapsOutcome(maps, image)


def layer_maps(layer, output: torch.Tensor, side: int, keep_full: bool) -> LayerMaps:
    """One layer's summary; a head adds its objectness per anchor (its decoder's)."""
    head = head_decoder(layer.type)
    objectness = None
    if head is not None and output.dim() == 3:
        try:
            objectness = head.objectness(layer, output.float().cpu().numpy())
        except NotImplementedError:
            objectness = None
    return summarise(layer.index, output, side, keep_full, objectness)
