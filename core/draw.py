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
    Boxes are clipped to the image; the label sits above the box, inside when no room."""
    canvas = image.convert("RGB")
    width, height = canvas.size
    line = max(1, round(min(width, height) / 250))
    font = _font(max(10, round(min(width, height) / 40)))
    pen = ImageDraw.Draw(canvas)
    for detection in sorted(detections, key=lambda d: d.confidence):
        x1, y1, x2, y2 = _clip(detection.box, width, height)
        colour = class_colour(detection.class_id)
        pen.rectangle([x1, y1, x2, y2], outline=colour, width=line)
        _draw_label(pen, label_text(detection), x1, y1, colour, font, width)
    return canvas


def _clip(box, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, x2 = sorted((min(max(x1, 0), width - 1), min(max(x2, 0), width - 1)))
    y1, y2 = sorted((min(max(y1, 0), height - 1), min(max(y2, 0), height - 1)))
    return x1, y1, x2, y2


def _draw_label(pen: ImageDraw.ImageDraw, text: str, x: int, y: int, colour, font,
                width: int) -> None:
    left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
    text_w, text_h = right - left + 4, bottom - top + 4
    y0 = y - text_h if y - text_h >= 0 else y
    x0 = min(x, max(0, width - text_w))
    pen.rectangle([x0, y0, x0 + text_w, y0 + text_h], fill=colour)
    ink = (0, 0, 0) if sum(colour) > 382 else (255, 255, 255)
    pen.text((x0 + 2 - left, y0 + 2 - top), text, fill=ink, font=font)
