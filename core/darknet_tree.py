"""A Darknet tree file (YOLO9000's `9k.tree`): one line per class, `name parent`, read as
Darknet's `read_tree` (src/tree.c) reads it. No torch here.

The file is opened only when the user names it (`--tree`, the app's "Tree file..."): a
cfg's `tree=` path is relative to Darknet's working directory, so it is never followed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from darknet_inspector.core.errors import UsageError

MAX_TREE_BYTES = 64 * 1024 * 1024  # 9k.tree is 150 KB; a bigger "tree" is another file


class TreeFileError(UsageError):
    """A tree file that cannot be read or is not a tree: the message names file and line."""


@dataclass(frozen=True)
class DarknetTree:
    """`tree` (src/darknet.h) as `read_tree` fills it: class j's `parent` (-1 or any
    negative: a root), its `name`; the softmax groups (`group_offsets`, `group_sizes`):
    runs of consecutive lines with the same parent."""

    path: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    group_offsets: tuple[int, ...]
    group_sizes: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.parents)

    @property
    def leaves(self) -> tuple[bool, ...]:
        """`read_tree`: a class is a leaf unless some class names it as its parent."""
        inner = {p for p in self.parents if p >= 0}
        return tuple(j not in inner for j in range(self.n))

    def text(self) -> str:
        """The tree as a tree file's text (`parse_tree` reads it back to an equal tree)."""
        return "".join(f"{name} {parent}\n" for name, parent in zip(self.names, self.parents))

    def count_problem(self, classes: int, counted: str | None = None) -> str | None:
        """Why this tree cannot serve a layer of `classes` classes (None: it can);
        `counted` says what the layer's count is (default `classes=N`, a [softmax] has
        `N inputs`). Darknet's `softmax_tree` and `hierarchy_predictions` walk both counts."""
        if self.n == classes:
            return None
        return (f"{self.path} has {self.n} classes (lines) but the layer has "
                f"{counted or f'classes={classes}'}; it is not this model's tree file")


def softmax_groups(parents: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`read_tree`'s groups: a new group starts where a line's parent differs from the
    line before, counting from `last_parent = -1`, so a file whose first line has a parent
    other than -1 starts with an empty group 0, as in Darknet. (offsets, sizes)."""
    offsets: list[int] = []
    sizes: list[int] = []
    last_parent, size = -1, 0
    for n, parent in enumerate(parents):
        if parent != last_parent:
            offsets.append(n - size)
            sizes.append(size)
            size, last_parent = 0, parent
        size += 1
    offsets.append(len(parents) - size)
    sizes.append(size)
    return tuple(offsets), tuple(sizes)


def _parse_line(path: str, number: int, line: str) -> tuple[str, int]:
    """`sscanf(line, "%s %d", id, &parent)`: the first word is the name, the second the
    parent index. A line Darknet would misread (no parent, not a number) is an error."""
    words = line.split()
    if not words:
        raise TreeFileError(f"{path}:{number}: empty line; every line of a tree file is "
                            "'name parent_index' (Darknet would count it as a class)")
    if len(words) < 2:
        raise TreeFileError(f"{path}:{number}: '{words[0][:60]}' has no parent index; a tree "
                            "file line is 'name parent_index' (-1 for a root)")
    try:
        return words[0], int(words[1])
    except ValueError:
        raise TreeFileError(f"{path}:{number}: parent index '{words[1][:60]}' is not a whole "
                            "number; a tree file line is 'name parent_index'") from None


def parse_tree(text: str, path: str) -> DarknetTree:
    """Tree file text -> DarknetTree; a parent outside 0..n-1 (other than a negative root
    mark) is an error at its line, since Darknet would read outside its arrays."""
    names: list[str] = []
    parents: list[int] = []
    lines = text.split("\n")  # `fgetl`: lines end at \n only; none after the last one
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        name, parent = _parse_line(path, number, line)
        names.append(name)
        parents.append(parent)
    if not parents:
        raise TreeFileError(f"{path}: empty tree file (no 'name parent_index' lines)")
    for number, parent in enumerate(parents, start=1):
        if parent >= len(parents):
            raise TreeFileError(f"{path}:{number}: parent index {parent} is out of range: the "
                                f"file has {len(parents)} lines (indices 0..{len(parents) - 1})")
    offsets, sizes = softmax_groups(parents)
    return DarknetTree(path, tuple(names), tuple(parents), offsets, sizes)


def read_tree(path: str | os.PathLike) -> DarknetTree:
    """Read a tree file the user named; TreeFileError (one line) when it is unreadable."""
    path = os.fspath(path)
    try:
        if not os.path.isfile(path):
            what = "a folder" if os.path.isdir(path) else (
                "not a regular file" if os.path.exists(path) else "no such file")
            raise TreeFileError(f"{path}: {what}; give the model's tree file (e.g. 9k.tree)")
        if os.path.getsize(path) > MAX_TREE_BYTES:
            raise TreeFileError(f"{path}: {os.path.getsize(path):,} bytes is not a tree file "
                                "(9k.tree is about 150 KB)")
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise TreeFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise TreeFileError(f"{path}:{line}: not a text file (bytes that are not UTF-8); "
                            "give the model's tree file") from None
    return parse_tree(text, path)


def hierarchy_levels(parents: tuple[int, ...]) -> list[tuple[list[int], list[int]]]:
    """`hierarchy_predictions` (src/tree.c) multiplies, in place and in index order,
    `p[j] *= p[parent[j]]`: a parent listed before j is already absolute, one listed at or
    after j still holds its conditional value. The same products, done level by level:
    level 1 holds roots' children and those forward references, level k+1 the children
    of level k. Returns per level (classes, their parents); roots need no step."""
    level = [0] * len(parents)
    for j, parent in enumerate(parents):
        if parent >= 0:
            level[j] = level[parent] + 1 if parent < j else 1
    steps: list[tuple[list[int], list[int]]] = [([], []) for _ in range(max(level, default=0))]
    for j, parent in enumerate(parents):
        if level[j]:
            steps[level[j] - 1][0].append(j)
            steps[level[j] - 1][1].append(parent)
    return steps
