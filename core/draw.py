"""Detections drawn on a copy of the image with Pillow: box, class name, percentage."""

from __future__ import annotations

import colorsys
from collections.abc import Iterable
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

GOLDEN_RATIO = 0.618033988749895


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A colour per class, the same in every run and image (hues spread by the golden
    ratio so neighbouring ids differ clearly)."""
    hue = (class_id * GOLDEN_RATIO) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return round(red * 255), round(green * 255), round(blue * 255)


def label_text(detection) -> str:
    return f"{detection.name} {detection.confidence * 100:.0f}%"


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def draw_detections(image: Image.Image, detections: Iterable) -> Image.Image:
    """A new RGB image with each detection's box and label; the input is not changed.
    Boxes are clipped to the image; labels are placed so they do not cover each other
    (`place_labels`), the most confident first."""
    canvas = image.convert("RGB")
    width, height = canvas.size
    line = max(1, round(min(width, height) / 250))
    font = _font(max(10, round(min(width, height) / 40)))
    pen = ImageDraw.Draw(canvas)
    ordered = sorted(detections, key=lambda d: -d.confidence)
    boxes = [_clip(d.box, width, height) for d in ordered]
    for detection, box in zip(reversed(ordered), reversed(boxes)):
        pen.rectangle(list(box), outline=class_colour(detection.class_id), width=line)
    texts = [label_text(d) for d in ordered]
    sizes = [_text_size(pen, text, font) for text in texts]
    for detection, text, spot in zip(ordered, texts, place_labels(boxes, sizes, width, height)):
        _draw_label(pen, text, spot, class_colour(detection.class_id), font)
    return canvas


def _clip(box, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, x2 = sorted((min(max(x1, 0), width - 1), min(max(x2, 0), width - 1)))
    y1, y2 = sorted((min(max(y1, 0), height - 1), min(max(y2, 0), height - 1)))
    return x1, y1, x2, y2


Rect = tuple[int, int, int, int]  # x1, y1, x2, y2


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _candidates(box: Rect, w: int, h: int, width: int, height: int) -> list[Rect]:
    """Where a w x h label may go, best first: above the box's top-left corner, inside
    it, below it, then at its right edge; each kept inside the image."""
    x1, y1, x2, y2 = box
    spots = [(x1, y1 - h), (x1, y1), (x1, y2), (x1, y2 - h),
             (x2 - w, y1 - h), (x2 - w, y1), (x2 - w, y2)]
    found = []
    for x, y in spots:
        x = min(max(x, 0), max(0, width - w))
        y = min(max(y, 0), max(0, height - h))
        found.append((x, y, x + w, y + h))
    return found


def place_labels(boxes: list[Rect], sizes: list[tuple[int, int]], width: int,
                 height: int) -> list[Rect]:
    """A rectangle per label (in the order given, most important first) that covers no
    label placed before it: the first free candidate spot around its box, else the first
    free row below the preferred spot (the image's last row when none is free)."""
    placed: list[Rect] = []
    for box, (w, h) in zip(boxes, sizes):
        spots = _candidates(box, w, h, width, height)
        spot = next((s for s in spots if not any(_overlaps(s, p) for p in placed)), None)
        if spot is None:
            x, y = spots[0][0], spots[0][1]
            while y + h < height and any(_overlaps((x, y, x + w, y + h), p) for p in placed):
                y += 1
            spot = (x, y, x + w, y + h)
        placed.append(spot)
    return placed


def _text_size(pen: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
    # Pillow types the box as floats; bitmap and FreeType fonts measure whole pixels
    return int(right - left) + 4, int(bottom - top) + 4


def _draw_label(pen: ImageDraw.ImageDraw, text: str, spot: Rect, colour, font) -> None:
    left, top, _right, _bottom = pen.textbbox((0, 0), text, font=font)
    x0, y0, x1, y1 = spot
    pen.rectangle([x0, y0, x1, y1], fill=colour)
    ink = (0, 0, 0) if sum(colour) > 382 else (255, 255, 255)
    pen.text((x0 + 2 - left, y0 + 2 - top), text, fill=ink, font=font)
