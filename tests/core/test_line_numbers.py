"""One line splitter (`core.cfg.split_lines`): every module that cuts cfg text by line
number numbers lines as Darknet does, so a form feed or U+2028 inside a comment (which
`str.splitlines` treats as a line break) shifts nothing."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cfg import split_lines
from darknet_inspector.core.opencv_dnn import cfg_text_before, opencv_cfg_text
from tests.helpers import net_from_text

ODD_BREAKS = ["\x0c", "\x0b", "\x1c", "\x85", "\u2028"]


def odd_cfg(odd: str) -> str:
    return ("[net]\nwidth=16\nheight=16\nchannels=3\n\n"
            "[convolutional]\nfilters=4\nsize=3\npad=1\n"
            f"# a comment with a {odd} in it\n"
            "activation=leaky\n"
            "[maxpool]\nsize=2\nstride=2\n")


def test_split_lines_breaks_only_on_lf_crlf_and_cr():
    assert split_lines("a\r\nb\rc\nd\x0ce\u2028f") == ["a", "b", "c", "d\x0ce\u2028f"]


@pytest.mark.parametrize("odd", ODD_BREAKS)
def test_cfg_text_before_keeps_the_previous_layers_activation(odd):
    network = net_from_text(odd_cfg(odd))
    before = cfg_text_before(network, 1)
    assert before.rstrip("\n").endswith("activation=leaky")
    assert "[maxpool]" not in before


@pytest.mark.parametrize("odd", ODD_BREAKS)
def test_opencv_cfg_text_drops_a_whole_comment_line(odd):
    lines = opencv_cfg_text(odd_cfg(odd)).splitlines()
    assert "in it" not in "".join(lines)
    assert lines.count("activation=leaky") == 1


def test_broken_demo_changes_only_the_heads_classes_line_after_a_form_feed(tmp_path):
    from darknet_inspector.core import demo

    text = demo.demo_files().cfg.read_text().replace("[net]", "# page\x0cbreak\n[net]", 1)
    cfg = tmp_path / "demo.cfg"
    cfg.write_text(text)
    before = split_lines(text)
    after = split_lines(demo.broken_cfg_text(cfg).removeprefix(demo.BROKEN_CFG_NOTE))
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].startswith("classes=")
    assert changed[0][1] == f"classes={demo.BROKEN_CLASSES}"
