"""What the feature-map views show of one layer's output, and the pictures made of it.

One forward pass (core.jobs.featuremaps) keeps, per layer, only what the views need:

- `stats`: per channel mean, max, min and whether it is dead on this image (4 numbers);
- `energy`: the activation energy, mean over channels of x², one H x W float32 map;
- `objectness`: for detection heads, objectness per anchor (A x H x W), from the head type;
- `thumbnails`: every channel area-averaged to at most `side` x `side`, float16, where
  `side` is chosen so that all layers' thumbnails fit the budget (`thumbnail_side`);
- `full`: the whole output (float32) only for the layers asked for (the CLI's `--layer`,
  the layer selected in the app); everything else is dropped as soon as it was summarised.

Memory: budget (default 64 MB) + the energy maps (sum of H*W*4 bytes: ~3 MB for yolov4 at
608) + the full outputs asked for; `FeatureMaps.kept_bytes` says what was kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

DEFAULT_BUDGET_BYTES = 64 * 2**20
MIN_SIDE, MAX_SIDE = 4, 64
DEAD_EPSILON = 1e-6


@dataclass(frozen=True)
class ChannelStats:
    """Per channel of one layer's output on one image."""

    mean: np.ndarray
    maximum: np.ndarray
    minimum: np.ndarray

    @property
    def dead(self) -> np.ndarray:
        """Channels that hold one value everywhere on this image (e.g. 0 after a ReLU or
        a leaky that never fired): they tell the next layer nothing about this image."""
        return (self.maximum - self.minimum) <= DEAD_EPSILON * (1 + np.abs(self.maximum))

    def order(self, key: str) -> np.ndarray:
        """Channel indices sorted by `mean` or `max` (largest first), or `index`."""
        if key == "index":
            return np.arange(len(self.mean))
        values = {"mean": self.mean, "max": self.maximum}[key]
        return np.argsort(-values, kind="stable")


@dataclass
class LayerMaps:
    index: int
    shape: tuple[int, int, int]
    stats: ChannelStats
    energy: np.ndarray
    thumbnails: np.ndarray
    objectness: np.ndarray | None = None
    full: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        arrays = [self.stats.mean, self.stats.maximum, self.stats.minimum, self.energy,
                  self.thumbnails, self.objectness, self.full]
        return sum(a.nbytes for a in arrays if a is not None)

    def channel(self, c: int) -> np.ndarray:
        """Channel `c` at the best resolution kept (full when kept, else its thumbnail)."""
        source = self.full if self.full is not None else self.thumbnails
        return np.asarray(source[c], dtype=np.float32)


@dataclass
class FeatureMaps:
    image_size: tuple[int, int]
    input_size: tuple[int, int]
    device: str
    side: int
    layers: dict[int, LayerMaps] = field(default_factory=dict)

    @property
    def kept_bytes(self) -> int:
        return sum(maps.nbytes for maps in self.layers.values())


def thumbnail_side(total_channels: int, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> int:
    """The largest square thumbnail (float16) that fits every channel in the budget."""
    if total_channels <= 0:
        return MAX_SIDE
    side = int(math.sqrt(budget_bytes / (2 * total_channels)))
    return max(MIN_SIDE, min(MAX_SIDE, side))


def as_chw_tensor(output: torch.Tensor) -> torch.Tensor:
    """One sample's output as (C, H, W): flat outputs become (N, 1, 1)."""
    return output if output.dim() == 3 else output.reshape(-1, 1, 1)


def summarise(index: int, output: torch.Tensor, side: int, keep_full: bool,
              objectness: np.ndarray | None = None) -> LayerMaps:
    """What the views keep of one sample's output (C, H, W) (see the module docstring)."""
    x = as_chw_tensor(output).float()
    c, h, w = x.shape
    flat = x.reshape(c, -1)
    stats = ChannelStats(flat.mean(dim=1).cpu().numpy(), flat.amax(dim=1).cpu().numpy(),
                         flat.amin(dim=1).cpu().numpy())
    energy = (x * x).mean(dim=0).cpu().numpy()
    size = (min(h, side), min(w, side))
    thumbs = F.adaptive_avg_pool2d(x[None], size)[0] if size != (h, w) else x
    return LayerMaps(
        index=index, shape=(c, h, w), stats=stats, energy=energy,
        thumbnails=thumbs.to(torch.float16).cpu().numpy(),
        objectness=None if objectness is None else objectness.astype(np.float32, copy=False),
        full=x.cpu().numpy().copy() if keep_full else None)


# -- pictures ----------------------------------------------------------------------------

def _inferno_lut() -> np.ndarray:
    """A 256-entry perceptual dark-to-bright colour map (black, purple, orange, yellow)."""
    stops = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99],
                      [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]], float)
    positions = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, 256)
    return np.stack([np.interp(t, positions, stops[:, k]) for k in range(3)], axis=1
                    ).astype(np.uint8)


COLOUR_MAP = _inferno_lut()


def normalised(values: np.ndarray, low: float | None = None,
               high: float | None = None) -> np.ndarray:
    """Values scaled to 0..1 between low and high (their own range by default)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32))
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    if high - low <= 0:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0, 1)


def grey(values: np.ndarray) -> np.ndarray:
    """A 2-D map as an 8-bit grey image scaled to its own range."""
    return (normalised(values) * 255).astype(np.uint8)


def colour(values01: np.ndarray) -> np.ndarray:
    """0..1 -> RGB through COLOUR_MAP."""
    return COLOUR_MAP[(np.clip(values01, 0, 1) * 255).astype(np.uint8)]


def overlay(image: Image.Image, values01: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The map (0..1) resized to the image (bilinear), coloured and blended over it."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    heat = Image.fromarray((np.clip(values01, 0, 1) * 255).astype(np.uint8))
    heat = heat.resize(image.size, Image.Resampling.BILINEAR)
    coloured = colour(np.asarray(heat, dtype=np.float32) / 255).astype(np.float32)
    return (rgb * (1 - alpha) + coloured * alpha).astype(np.uint8)


def heatmap_panels(maps: LayerMaps, image: Image.Image) -> list[tuple[str, np.ndarray]]:
    """The heatmap overlays of one layer: one per anchor for a head (objectness, 0..1),
    else the activation energy scaled to its own range."""
    if maps.objectness is not None:
        return [(f"anchor {a}: objectness", overlay(image, maps.objectness[a]))
                for a in range(len(maps.objectness))]
    return [("activation energy", overlay(image, normalised(maps.energy)))]


def heatmap_picture(maps: LayerMaps, image: Image.Image) -> np.ndarray:
    """The panels side by side, each captioned."""
    panels = heatmap_panels(maps, image)
    w, h = image.size
    canvas = Image.new("RGB", (w * len(panels), h + 16), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k, (caption, rgb) in enumerate(panels):
        canvas.paste(Image.fromarray(rgb), (k * w, 16))
        draw.text((k * w + 4, 2), f"layer {maps.index} {caption}", fill=(0, 0, 0))
    return np.asarray(canvas)


def grid_picture(maps: LayerMaps, order: str = "index", limit: int = 256,
                 tile: int = 96) -> np.ndarray:
    """Channel images (each scaled to its own range) in a grid, `order` by index, mean
    or max, at most `limit` of them; under each its channel and range; dead ones red."""
    channels = maps.stats.order(order)[:limit]
    columns = max(1, math.ceil(math.sqrt(len(channels))))
    rows = math.ceil(len(channels) / columns)
    caption = 22
    canvas = Image.new("RGB", (columns * (tile + 4), rows * (tile + caption + 4)),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    dead = maps.stats.dead
    c_, h, w = maps.shape
    scale = tile / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    for k, c in enumerate(channels):
        x0, y0 = (k % columns) * (tile + 4) + 2, (k // columns) * (tile + caption + 4) + 2
        picture = Image.fromarray(grey(maps.channel(int(c)))).resize(
            size, Image.Resampling.NEAREST)
        canvas.paste(picture, (x0, y0))
        ink = (200, 0, 0) if dead[c] else (0, 0, 0)
        draw.text((x0, y0 + tile + 1), f"#{c}", fill=ink)
        draw.text((x0, y0 + tile + 11),
                  f"{maps.stats.minimum[c]:.2g}..{maps.stats.maximum[c]:.2g}", fill=ink)
    return np.asarray(canvas)
