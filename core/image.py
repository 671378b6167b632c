"""Images as Darknet's `detector test` feeds them: RGB, 0..1, CHW, resized its own way.

Decoding is Pillow's (EXIF orientation applied, every mode brought to 8-bit RGB); the
resize and letterbox follow src/image.c of AlexeyAB/darknet, in float32 like Darknet.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from darknet_inspector.core.errors import UsageError

_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image as 8-bit RGB, EXIF-transposed; UsageError (one line) if unreadable."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise UsageError(f"{name}: no such image file")
    try:
        with Image.open(name) as opened:
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)
            return to_rgb8(opened)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
            Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{name}: cannot read this image ({reason})") from None


def to_rgb8(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB the way stb_image loads with 3 channels: grey is
    replicated, alpha dropped (not composited), 16-bit samples keep their high byte.
    An RGB image is returned as it is."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_BIT_MODES:
        return Image.fromarray(high_bits_to_bytes(np.asarray(image)), "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def high_bits_to_bytes(samples: np.ndarray) -> np.ndarray:
    """16-bit (or wider) grey samples -> 8 bits by keeping the high byte, as stb_image's
    16-to-8 conversion does; float images are taken as 0..255 already."""
    if samples.dtype.kind == "f":
        return np.clip(np.nan_to_num(samples), 0, 255).astype(np.uint8)
    values = samples.astype(np.int64)
    if values.max(initial=0) <= 255 and samples.dtype.itemsize > 2:
        return np.clip(values, 0, 255).astype(np.uint8)
    return (np.clip(values, 0, 65535) >> 8).astype(np.uint8)


def image_to_chw(image: Image.Image | np.ndarray) -> np.ndarray:
    """RGB image -> float32 CHW in 0..1: each byte divided by 255 (as `load_image_stb`)."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected 8-bit pixels, got {pixels.dtype}")
    # float32 division by 255 rounds every byte exactly like Darknet's double division
    return np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)


def darknet_resize(chw: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `resize_image` (src/image.c): bilinear with corner-aligned sampling
    (source x = c*(W-1)/(w-1)), columns first into an intermediate, then rows; the last
    column copies the last source column, the last row takes only its upper neighbour's
    (1-dy) share. Float32 throughout, like Darknet. A target size of 1 (where Darknet
    divides by zero) samples the first row / the last column."""
    if w < 1 or h < 1:
        raise ValueError(f"cannot resize to {w}x{h}")
    src = np.asarray(chw, dtype=np.float32)
    _, src_h, src_w = src.shape
    if (src_w, src_h) == (w, h):
        return src.copy()
    part = _resize_columns(src, w)
    return _resize_rows(part, h)


def _sample_positions(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer source index and float32 fraction for each target index (float32 maths)."""
    if dst == 1:
        return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float32)
    scale = np.float32(src - 1) / np.float32(dst - 1)
    pos = np.arange(dst, dtype=np.float32) * scale
    index = pos.astype(np.int64)
    return index, (pos - index.astype(np.float32)).astype(np.float32)


def _resize_columns(src: np.ndarray, w: int) -> np.ndarray:
    _, _, src_w = src.shape
    ix, dx = _sample_positions(src_w, w)
    right = np.minimum(ix + 1, src_w - 1)
    part = (np.float32(1) - dx) * np.take(src, ix, axis=2) + dx * np.take(src, right, axis=2)
    last = src[:, :, src_w - 1]
    part[:, :, w - 1] = last
    if src_w == 1:
        part[:, :, :] = last[:, :, None]
    return part.astype(np.float32, copy=False)


def _resize_rows(part: np.ndarray, h: int) -> np.ndarray:
    _, src_h, _ = part.shape
    iy, dy = _sample_positions(src_h, h)
    below = np.minimum(iy + 1, src_h - 1)
    out = (np.float32(1) - dy)[None, :, None] * np.take(part, iy, axis=1)
    lower = dy[None, :, None] * np.take(part, below, axis=1)
    if src_h > 1:
        lower[:, h - 1, :] = 0
        out = out + lower
    return np.ascontiguousarray(out, dtype=np.float32)


def letterbox_size(src_w: int, src_h: int, w: int, h: int) -> tuple[int, int]:
    """The size the image takes inside a w x h letterbox: `letterbox_image` /
    `correct_yolo_boxes` (src/image.c, src/yolo_layer.c): compare the float32 ratios,
    fit the tighter side, integer division for the other."""
    if np.float32(w) / np.float32(src_w) < np.float32(h) / np.float32(src_h):
        return w, max(1, (src_h * w) // src_w)
    return max(1, (src_w * h) // src_h), h


def darknet_letterbox(chw: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `letterbox_image` (src/image.c): aspect kept with `resize_image`, the
    result pasted centred ((w-new_w)/2, (h-new_h)/2, integer division) on a 0.5 canvas."""
    src = np.asarray(chw, dtype=np.float32)
    channels, src_h, src_w = src.shape
    new_w, new_h = letterbox_size(src_w, src_h, w, h)
    resized = darknet_resize(src, new_w, new_h)
    boxed = np.full((channels, h, w), 0.5, dtype=np.float32)
    left, top = (w - new_w) // 2, (h - new_h) // 2
    boxed[:, top:top + new_h, left:left + new_w] = resized
    return boxed
