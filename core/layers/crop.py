"""[crop]: Darknet's `parse_crop` (src/parser.c) and `forward_crop_layer`
(src/crop_layer.c) at inference: a centred crop, no flip, and the pixel values rescaled
from 0..1 to -1..1 unless `noadjust=1`."""

from __future__ import annotations

from dataclasses import dataclass

from darknet_inspector.core.layers.base import (
    BuildContext,
    Built,
    LayerParams,
    LayerProblem,
    LayerType,
    positive,
)
from darknet_inspector.core.layers.registry import register

CROP_TRAINING_KEYS = frozenset({"flip", "angle", "saturation", "exposure", "shift"})


def crop_adjustment(noadjust: bool) -> tuple[float, float]:
    """(scale, shift) applied to every value: 2x - 1, or x as is with `noadjust=1`."""
    return (1.0, 0.0) if noadjust else (2.0, -1.0)


def centred_crop_offset(size_in: int, size_out: int) -> int:
    """`forward_crop_layer` with `state.train == 0`: (in - out) / 2."""
    return (size_in - size_out) // 2


@dataclass(frozen=True)
class CropParams(LayerParams):
    """[crop] at inference: the centred window's corner and the value adjustment."""

    top: int
    left: int
    scale: float
    shift: float


@register
class Crop(LayerType):
    name = "crop"
    known_keys = CROP_TRAINING_KEYS

    def build(self, ctx: BuildContext) -> Built:
        s = ctx.section
        c, h, w = ctx.require_chw()
        crop_h = positive(s, "crop_height", s.int("crop_height", 1))
        crop_w = positive(s, "crop_width", s.int("crop_width", 1))
        if crop_h > h or crop_w > w:
            raise LayerProblem(
                f"[crop] crop_width={crop_w} crop_height={crop_h} is larger than the "
                f"{w}x{h} input; Darknet crops inside the input (set [net] width/height at "
                "least as large)", s.line_of("crop_height" if crop_h > h else "crop_width"))
        scale, shift = crop_adjustment(bool(s.int("noadjust", 0)))
        params = CropParams(top=centred_crop_offset(h, crop_h),
                            left=centred_crop_offset(w, crop_w), scale=scale, shift=shift)
        return Built((c, crop_h, crop_w), params, summary=f"{crop_w}x{crop_h}")


