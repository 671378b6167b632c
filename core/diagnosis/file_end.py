"""`truncated`, `trailing_bytes`, `header` and the unexplained divergence: what the
file's length and the alignment of its batch-norm statistics say on their own."""

from __future__ import annotations

from darknet_inspector.core.diagnosis.context import Context
from darknet_inspector.core.diagnosis.evidence import check_alignment
from darknet_inspector.core.diagnosis.findings import Finding
from darknet_inspector.core.diagnosis.layout import starts

SEEN32_HEADER = 16


def where_file_ends(ctx: Context) -> int:
    """Index of the layer the file ends inside (or before)."""
    offsets = starts(ctx.layout)
    body_floats = (ctx.file_bytes - ctx.header_bytes) / 4
    for entry, end in zip(ctx.layout, offsets[1:]):
        if entry.floats and end > body_floats:
            return entry.index
    return ctx.layout[-1].index


def truncated(ctx: Context) -> Finding:
    layer = ctx.network.layers[where_file_ends(ctx)]
    missing = ctx.missing_bytes
    healthy = (f"the {ctx.alignment.checked} batch-norm layers it holds all read healthy"
               if ctx.alignment.checked else "it holds no batch-norm statistics to check")
    odd = ("; its length is not a whole number of floats, as an interrupted copy leaves it"
           if (ctx.file_bytes - ctx.header_bytes) % 4 else "")
    return Finding(
        "truncated", layer.index, layer.line,
        f"the file ends {missing:,} bytes early, inside layer {layer.index} "
        f"([{layer.section.name}], line {layer.line}); what it holds is intact{odd}",
        f"copy or download the weights again: the full file is "
        f"{ctx.file_bytes + missing:,} bytes", False, [healthy], score=3)


def trailing_bytes(ctx: Context) -> Finding:
    extra = -ctx.missing_bytes
    floats = (f"{extra // 4:,} float{'s' if extra != 4 else ''}" if extra % 4 == 0
              else "not a whole number of floats")
    return Finding(
        "trailing_bytes", None, None,
        f"every layer is intact and {extra:,} bytes follow the last one ({floats}); "
        "Darknet ignores bytes after the last layer, so the model loads and runs",
        f"nothing needed; to drop them keep the first {ctx.file_bytes - extra:,} bytes",
        True, [f"all {ctx.alignment.checked} batch-norm layers read healthy"], score=2)


def seen_written_as_uint32(ctx: Context) -> Finding | None:
    """A 0.2.x header (uint64 `seen`, 20 bytes) on a body written after a 4-byte `seen`:
    the cfg needs exactly 4 bytes more than the file has, and reading the body after 16
    bytes makes it match and read healthy. Darknet's rule: `seen` is uint64 when
    major*10+minor >= 2 (`load_weights_upto`, src/parser.c)."""
    if ctx.header_bytes != 20 or ctx.missing_bytes != 20 - SEEN32_HEADER:
        return None
    if not ctx.matches(ctx.layout, SEEN32_HEADER):
        return None
    alignment = check_alignment(ctx.layout, ctx.data, SEEN32_HEADER, ctx.file_bytes)
    return Finding(
        "header", None, None,
        "the header's version says `seen` is 8 bytes (a 20-byte header), but the file was "
        "written with a 4-byte `seen` (16 bytes), as some PyTorch writers do: every float "
        "after it is read 4 bytes off",
        "rewrite the header: darknet-inspector header WEIGHTS -o FIXED.weights "
        "--header-bytes 16 (Darknet reads `seen` as uint64 when major*10+minor >= 2, "
        "src/parser.c load_weights_upto)", True,
        [f"read after a 16-byte header the file holds exactly the cfg's floats and all "
         f"{alignment.checked} batch-norm layers read healthy"], score=6)


def unexplained(ctx: Context) -> Finding | None:
    """No single edit explains the file: name the first layer where the evidence breaks
    and what the weights look like there."""
    broken = ctx.alignment.broken
    if broken is None:
        return None
    layer = ctx.network.layers[broken.layer]
    after = ctx.alignment.last_healthy
    since = (f"; layer {after} is the last that reads healthy" if after is not None
             else "; no earlier layer has batch-norm statistics to check")
    return Finding(
        "cfg_diverges", layer.index, layer.line,
        f"cfg and weights diverge at or before layer {layer.index} ([{layer.section.name}], "
        f"line {layer.line}): read where the cfg puts it, {broken.describe()}{since}",
        None, False, [broken.describe()], score=1)
