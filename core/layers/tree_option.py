"""The `tree=` option of [region] (YOLO9000) and [softmax] (the darknet9000 classifier):
`parse_region` / `parse_softmax` (src/parser.c) read it with `read_tree`, a path relative
to Darknet's working directory, which this tool never follows; the layer takes the tree
file the user gave instead (`--tree`, the app's Tree file... row: `BuildContext.tree`)."""

from __future__ import annotations

from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.layers.base import BuildContext


def given_tree_file(ctx: BuildContext, tree_option: str, count: int,
                    counted: str | None = None) -> tuple[DarknetTree | None, str | None]:
    """The tree file for this layer's `tree=` option, checked against the `count` values
    its softmax_tree walks (`counted`: how the message names them, default `classes=N`).
    Returns (tree, None), or (None, why the layer cannot run): a warning at the tree= line
    without a tree file, an error there when the file's class count is not the layer's."""
    s = ctx.section
    line = s.line_of("tree")
    where = f"layer {ctx.index} ([{s.name}], cfg line {line}: tree={tree_option})"
    if ctx.tree is None:
        ctx.warn(f"[{s.name}] tree={tree_option}: the hierarchical softmax (YOLO9000's "
                 "9k.tree) needs that tree file, and this tool never opens a path written "
                 "inside a cfg; give it (--tree FILE, or Tree file\u2026 in the app) to run "
                 "this layer (shapes and weights are shown without it)", line)
        return None, (f"{where} needs its tree file to run: give it with --tree FILE (in "
                      "the app: Tree file\u2026 in the Detection preview tab)")
    problem = ctx.tree.count_problem(count, counted)
    if problem is not None:
        ctx.error(f"{problem} (cfg line {line}: tree={tree_option})", line)
        return None, f"{where}: {problem}"
    return ctx.tree, None
