"""`classes`: the class count the weights hold, per head."""

from __future__ import annotations

from darknet_inspector.core.diagnosis.context import Context
from darknet_inspector.core.diagnosis.edits import CfgEdit, apply_to_text, edited_network
from darknet_inspector.core.diagnosis.findings import Finding
from darknet_inspector.core.diagnosis.heads import Head, classes_noun, heads, lines_text
from darknet_inspector.core.network import Network


def head_mismatches(network: Network) -> tuple[list[Finding], list[CfgEdit]]:
    """Heads whose classes= disagrees with the filters their conv has (and so the
    weights hold): the fix is classes=, never filters= (which would contradict the
    weights). One finding per class count."""
    wrong: dict[int, list[Head]] = {}
    for head in heads(network):
        if head.feeder_filters == head.filters_for(head.classes):
            continue
        held = head.classes_held(head.feeder_filters)
        if held is not None:
            wrong.setdefault(held, []).append(head)
    findings, edits = [], []
    for held, group in wrong.items():
        group_edits = [CfgEdit(h.layer.index, "classes", str(held)) for h in group]
        edits += group_edits
        said = ", ".join(f"classes={h.classes} (line {h.classes_line})" for h in group)
        first = group[0]
        findings.append(Finding(
            "classes", first.layer.index, first.classes_line,
            f"the conv feeding {'these heads' if len(group) > 1 else 'this head'} has "
            f"filters={first.feeder_filters} (line {first.filters_line}), which is "
            f"{classes_noun(held)} for {first.anchors} anchors, but the cfg says {said}",
            f"set classes={held} on {lines_text([h.classes_line for h in group])}",
            False, [f"filters={first.feeder_filters} = {first.anchors} * ({held} + "
                    f"{first.entries})"], score=5,
            fixed_cfg=apply_to_text(network, group_edits),
            supersedes=tuple(h.layer.index for h in group)))
    return findings, edits


def solve_classes(ctx: Context) -> Finding | None:
    """One class count for every head that makes the file's size match exactly
    (the size is linear in it), kept only when the edited cfg reads healthy."""
    body = ctx.body_floats
    found = heads(ctx.network)
    if body is None or not found or body == ctx.expected_floats:
        return None
    per_class = sum(h.anchors * h.floats_per_filter for h in found)
    now = sum(h.anchors * h.floats_per_filter * h.classes for h in found)
    need = body - ctx.expected_floats + now
    if need % per_class or need // per_class < 1:
        return None
    classes = need // per_class
    edits = []
    for h in found:
        if h.classes != classes:
            edits.append(CfgEdit(h.layer.index, "classes", str(classes)))
        if h.feeder_filters != h.filters_for(classes):
            edits.append(CfgEdit(h.feeder.index, "filters", str(h.filters_for(classes))))
    fixed = edited_network(ctx.network, edits)
    verified = ctx.network_matches(fixed)
    classes_lines = [h.classes_line for h in found]
    filters_lines = [h.filters_line for h in found]
    filters = sorted({h.filters_for(classes) for h in found})
    said = sorted({h.classes for h in found})
    first = min(found, key=lambda h: h.feeder.index)
    return Finding(
        "classes", first.feeder.index, first.filters_line,
        f"these weights were trained with {classes_noun(classes)}, the cfg says "
        f"classes={','.join(map(str, said))}",
        f"set classes={classes} on {lines_text(classes_lines)}, filters="
        f"{','.join(map(str, filters))} on {lines_text(filters_lines)}",
        verified, [f"the file holds exactly the floats of this cfg with classes={classes}"
                   + ("; every batch-norm layer then reads healthy" if verified else
                      ", but the batch-norm statistics do not read healthy then")],
        score=5, fixed_cfg=apply_to_text(ctx.network, edits) if verified else None,
        supersedes=tuple(h.layer.index for h in found))
