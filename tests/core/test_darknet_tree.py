"""Tree files (YOLO9000's 9k.tree) read as Darknet's `read_tree` (src/tree.c) reads them,
and the one-line errors for files that are not trees."""

from __future__ import annotations

import pytest

from darknet_inspector.core.darknet_tree import (
    TreeFileError,
    hierarchy_levels,
    parse_tree,
    read_tree,
)

TWO_GROUPS = "animal -1\nplant -1\ndog 0\ncat 0\nbird 0\ntree 1\nflower 1\n"


def test_groups_are_runs_of_lines_with_the_same_parent():
    tree = parse_tree(TWO_GROUPS, "t.tree")
    assert tree.n == 7
    assert tree.parents == (-1, -1, 0, 0, 0, 1, 1)
    assert tree.group_offsets == (0, 2, 5)
    assert tree.group_sizes == (2, 3, 2)
    assert tree.names[2] == "dog"


def test_leaves_are_classes_no_line_names_as_parent():
    tree = parse_tree(TWO_GROUPS, "t.tree")
    assert tree.leaves == (False, False, True, True, True, True, True)


def test_a_first_line_with_a_parent_starts_with_an_empty_group_as_in_darknet():
    """`last_parent` starts at -1: a first parent of 0 opens group 1 and leaves group 0
    with size 0 (a file whose first line is its own child: Darknet reads it)."""
    tree = parse_tree("a 0\nb 0\nc 1\n", "t.tree")
    assert tree.group_sizes == (0, 2, 1)
    assert tree.group_offsets == (0, 0, 2)


def test_the_same_parent_in_two_runs_makes_two_groups():
    tree = parse_tree("a -1\nb 0\nc -1\nd 0\n", "t.tree")
    assert tree.group_sizes == (1, 1, 1, 1)


def test_hierarchy_levels_put_children_after_their_parents():
    tree = parse_tree("a -1\nb 0\nc 1\nd 2\ne 0\n", "t.tree")
    assert hierarchy_levels(tree.parents) == [([1, 4], [0, 0]), ([2], [1]), ([3], [2])]


def test_a_parent_listed_after_its_child_is_multiplied_unprocessed():
    """`hierarchy_predictions` works in index order: class 0 (parent 2) takes class 2's
    conditional value, so it sits on the first level whatever class 2's depth is."""
    assert hierarchy_levels((2, -1, 1)) == [([0, 2], [2, 1])]


@pytest.mark.parametrize("text, line, words", [
    ("a -1\n\nb 0\n", 2, "empty line"),
    ("a -1\nb\n", 2, "'b' has no parent index"),
    ("a -1\nb x\n", 2, "'x' is not a whole number"),
    ("a -1\nb 0\nc 3\n", 3, "parent index 3 is out of range"),
])
def test_a_bad_line_names_the_file_and_the_line(text, line, words):
    with pytest.raises(TreeFileError) as caught:
        parse_tree(text, "my.tree")
    assert str(caught.value).startswith(f"my.tree:{line}: ")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_file_is_no_tree():
    with pytest.raises(TreeFileError, match="empty tree file"):
        parse_tree("", "my.tree")


def test_a_trailing_newline_adds_no_class(tmp_path):
    path = tmp_path / "t.tree"
    path.write_text(TWO_GROUPS)
    tree = read_tree(path)
    assert tree.n == 7
    assert tree.path == str(path)


def test_a_carriage_return_is_not_part_of_the_parent(tmp_path):
    path = tmp_path / "t.tree"
    path.write_bytes(TWO_GROUPS.replace("\n", "\r\n").encode())
    assert read_tree(path).parents == (-1, -1, 0, 0, 0, 1, 1)


def test_unreadable_tree_files_are_one_line_naming_them(tmp_path):
    with pytest.raises(TreeFileError, match="no such file"):
        read_tree(tmp_path / "absent.tree")
    with pytest.raises(TreeFileError, match="a folder"):
        read_tree(tmp_path)
    binary = tmp_path / "model.weights"
    binary.write_bytes(b"a -1\n\xff\xfe\x00\x01")
    with pytest.raises(TreeFileError, match=r"model.weights:2: not a text file"):
        read_tree(binary)


def test_count_problem_names_both_counts():
    tree = parse_tree(TWO_GROUPS, "t.tree")
    assert tree.count_problem(7) is None
    problem = tree.count_problem(9418)
    assert problem is not None
    assert "t.tree has 7 classes" in problem and "classes=9418" in problem
