"""`cfg_diverges`: a structural search over single cfg edits (a layer's filters, size,
groups or batch_normalize, a layer inserted or removed) around where the evidence
breaks. Each edit is tested on float counts first (only the edited layer is rebuilt
when it keeps its output shape) and, when the counts match the file, on the batch-norm
evidence and a full rebuild of the edited cfg."""

from __future__ import annotations

from collections.abc import Iterator

from darknet_inspector.core.diagnosis.context import Context
from darknet_inspector.core.diagnosis.edits import (
    CfgEdit,
    apply_to_text,
    edited_network,
    rebuilt_layers,
)
from darknet_inspector.core.diagnosis.file_end import where_file_ends
from darknet_inspector.core.diagnosis.findings import Finding
from darknet_inspector.core.diagnosis.layout import network_layout, starts, total_floats
from darknet_inspector.core.layers.base import Layer

KERNEL_SIZES = (1, 2, 3, 5, 7)


def conv_option(layer: Layer, key: str, default: int) -> int:
    value = layer.section.options.get(key)
    try:
        return int(value.value) if value is not None else default
    except ValueError:
        return default


def conv_edits(layer: Layer) -> Iterator[CfgEdit]:
    """Kernel size, groups and batch_normalize alternatives of one [convolutional]."""
    size = conv_option(layer, "size", 1)
    groups = conv_option(layer, "groups", 1)
    filters = conv_option(layer, "filters", 1)
    channels = layer.input_shape[0] if layer.input_shape else 1
    for k in KERNEL_SIZES:
        if k != size:
            yield CfgEdit(layer.index, "size", str(k))
    for g in sorted({1, 2, channels, filters}):
        if g != groups and g >= 1 and channels % g == 0 and filters % g == 0:
            yield CfgEdit(layer.index, "groups", str(g))
    bn = conv_option(layer, "batch_normalize", 0)
    yield CfgEdit(layer.index, "batch_normalize", "0" if bn else "1")


def inserted_convs(ctx: Context, layer: Layer) -> Iterator[CfgEdit]:
    """A [convolutional] keeping the shape (filters = its input channels), before
    `layer`, modelled on the cfg's own convs (size, depthwise or not, batch norm)."""
    if not layer.input_shape or len(layer.input_shape) != 3:
        return
    channels = layer.input_shape[0]
    seen = set()
    for other in ctx.network.layers:
        if other.type != "convolutional" or not other.input_shape:
            continue
        depthwise = conv_option(other, "groups", 1) == other.input_shape[0] > 1
        key = (conv_option(other, "size", 1), depthwise,
               conv_option(other, "batch_normalize", 0),
               other.section.options["activation"].value
               if "activation" in other.section.options else "logistic")
        if key in seen:
            continue
        seen.add(key)
        size, dw, bn, activation = key
        yield CfgEdit(layer.index, insert=(
            f"[convolutional]\nbatch_normalize={bn}\nfilters={channels}\nsize={size}\n"
            f"stride=1\npad=1\n" + (f"groups={channels}\n" if dw else "")
            + f"activation={activation}\n"))


def quick_total(ctx: Context, edit: CfgEdit) -> int | None:
    """Floats the file would need with `edit` made: only the edited layer is rebuilt
    when it keeps its output shape, else everything from it on."""
    network = ctx.network
    base = ctx.expected_floats
    old = network.layers[edit.layer] if edit.layer < len(network.layers) else None
    if not network.complete:
        layers = rebuilt_layers(network, edit)
        if layers is None or not all(layer.known for layer in layers):
            return None
        return total_floats(network_layout(layers))
    if edit.delete and old is not None and old.output_shape == old.input_shape:
        return base - old.param_count
    if not edit.delete:
        layers = rebuilt_layers(network, edit, until=edit.layer + 1)
        if layers is None:
            return None
        new = layers[edit.layer]
        if edit.insert and new.output_shape == new.input_shape:
            return base + new.param_count
        if not edit.insert and old is not None and new.output_shape == old.output_shape:
            return base + new.param_count - old.param_count
    layers = rebuilt_layers(network, edit)
    return None if layers is None else total_floats(network_layout(layers))


def filters_edit(ctx: Context, layer: Layer, body: int) -> CfgEdit | None:
    """filters= for which the file size matches: the size is linear in it (the layer's
    own floats and its consumers' input channels), so two rebuilds solve it."""
    filters = conv_option(layer, "filters", 1)
    for probe in (filters + 1, 2 * filters):
        total = quick_total(ctx, CfgEdit(layer.index, "filters", str(probe)))
        if total is None:
            continue
        slope, rest = divmod(total - ctx.expected_floats, probe - filters)
        if slope <= 0 or rest:
            return None
        change, rest = divmod(body - ctx.expected_floats, slope)
        if rest or filters + change < 1 or change == 0:
            return None
        return CfgEdit(layer.index, "filters", str(filters + change))
    return None


def candidate_edits(ctx: Context, low: int, high: int, body: int) -> Iterator[CfgEdit]:
    layers = ctx.network.layers
    for index in range(low, min(high, len(layers) - 1) + 1):
        layer = layers[index]
        if layer.type == "convolutional" and layer.weights:
            found = filters_edit(ctx, layer, body)
            if found is not None:
                yield found
            yield from conv_edits(layer)
        if layer.weights:
            yield CfgEdit(index, delete=True)
        yield from inserted_convs(ctx, layer)


def search_range(ctx: Context) -> tuple[int, int]:
    """From the last layer whose batch norm reads healthy (its own weights may be the
    ones that differ) to the first that does not, else to where the file ends."""
    alignment = ctx.alignment
    low = alignment.last_healthy if alignment.last_healthy is not None else 0
    if alignment.broken:
        return low, alignment.broken.layer
    if not ctx.network.complete:
        return low, len(ctx.layout)
    return low, where_file_ends(ctx)


def search_structure(ctx: Context, limit: int = 400) -> list[Finding]:
    """Every single edit in the search range that makes the file match exactly."""
    body = ctx.body_floats
    if body is None:
        return []
    low, high = search_range(ctx)
    offsets = starts(ctx.layout)
    findings = []
    for tried, edit in enumerate(candidate_edits(ctx, low, high, body)):
        if tried >= limit:
            break
        if edit.layer < len(offsets) - 1 and offsets[edit.layer] >= body:
            continue  # the file holds nothing of this layer: no evidence either way
        if quick_total(ctx, edit) != body:
            continue
        fixed = edited_network(ctx.network, [edit])
        if ctx.network_matches(fixed):
            findings.append(describe_edit(ctx, edit))
    return findings


def describe_edit(ctx: Context, edit: CfgEdit) -> Finding:
    layer = ctx.network.layers[edit.layer]
    section = layer.section
    where = f"layer {layer.index} (line {section.line})"
    if edit.delete:
        end = (ctx.network.layers[edit.layer + 1].section.line - 1
               if edit.layer + 1 < len(ctx.network.layers) else None)
        span = f"lines {section.line}-{end}" if end else f"lines {section.line} to the end"
        message = (f"{where}: the weights have no [{section.name}] here; the cfg's layer "
                   f"{layer.index} is not in the file")
        fix = f"delete the [{section.name}] section on {span}"
    elif edit.insert:
        first = edit.insert.strip().split("\n")
        options = [o for o in first[1:] if not o.startswith(("stride=1", "pad=1"))]
        message = (f"{where}: the weights hold one more layer before this one, a "
                   f"{first[0]} ({', '.join(options)}) that the cfg lacks")
        fix = f"insert before line {section.line}: " + " ".join(first)
    else:
        now = section.options[edit.key].value if edit.key in section.options else "(unset)"
        if edit.key == "size":
            what = (f"the weights hold a {edit.value}x{edit.value} kernel here, the cfg asks "
                    f"for {now}x{now}")
        elif edit.key == "batch_normalize":
            what = ("the weights hold batch-norm statistics here, the cfg has none"
                    if edit.value == "1" else
                    "the weights hold no batch-norm statistics here, the cfg asks for them")
        else:
            what = f"the weights hold {edit.key}={edit.value} here, the cfg asks for {now}"
        message = f"{where}: {what}"
        fix = f"set {edit.key}={edit.value} on line {section.line_of(edit.key)}"
    hidden = tuple(d.layer for d in ctx.network.errors if d.layer is not None)
    return Finding("cfg_diverges", layer.index, section.line if edit.delete or edit.insert
                   else section.line_of(edit.key), message, fix, True,
                   ["with this edit the file holds exactly the cfg's floats and every "
                    "batch-norm layer reads healthy"], score=4,
                   fixed_cfg=apply_to_text(ctx.network, [edit]), supersedes=hidden)
