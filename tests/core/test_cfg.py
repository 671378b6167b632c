"""The cfg parser: sections, options, comments, line endings, aliases, line numbers."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cfg import SECTION_ALIASES, parse_cfg, read_cfg
from darknet_inspector.core.errors import CfgError

TEXT = """[net]
width=416
height = 416   # inline comment
; a full-line comment
# another one

[convolutional]
filters=16;inline comment after a semicolon
size = 3
activation=leaky

[yolo]
mask = 0, 1 ,2
anchors=10,14,  23,27, 37,58
"""


def _summary(cfg):
    return [(s.type, s.line, {k: (o.value, o.line) for k, o in s.options.items()})
            for s in cfg.sections]


def test_sections_options_and_their_line_numbers():
    cfg = parse_cfg(TEXT, "m.cfg")
    assert _summary(cfg) == [
        ("net", 1, {"width": ("416", 2), "height": ("416", 3)}),
        ("convolutional", 7, {"filters": ("16", 8), "size": ("3", 9),
                              "activation": ("leaky", 10)}),
        ("yolo", 12, {"mask": ("0,1,2", 13), "anchors": ("10,14,23,27,37,58", 14)}),
    ]
    assert cfg.diagnostics == []
    assert all(s.path == "m.cfg" for s in cfg.sections)


def test_crlf_and_lone_cr_give_the_same_sections_and_lines():
    expected = _summary(parse_cfg(TEXT))
    assert _summary(parse_cfg(TEXT.replace("\n", "\r\n"))) == expected
    assert _summary(parse_cfg(TEXT.replace("\n", "\r"))) == expected


def test_form_feed_and_unicode_line_separators_do_not_shift_line_numbers():
    text = "[net]\n# comment with \x0c and \u2028 and \x85 inside\nwidth=32\n"
    cfg = parse_cfg(text)
    assert cfg.sections[0].options["width"].line == 3


def test_utf8_bom_is_dropped_from_bytes_and_from_text(tmp_path):
    path = tmp_path / "bom.cfg"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert _summary(read_cfg(path)) == _summary(parse_cfg(TEXT))
    assert _summary(parse_cfg("\ufeff" + TEXT)) == _summary(parse_cfg(TEXT))


def test_latin1_file_is_read_and_utf8_comment_is_fine(tmp_path):
    path = tmp_path / "latin.cfg"
    path.write_bytes("[net]\n# caf\xe9\nwidth=32\n".encode("latin-1"))
    assert read_cfg(path).sections[0].int("width") == 32
    path.write_bytes("[net]\n# größe ✓\nwidth=32\n".encode())
    assert read_cfg(path).sections[0].int("width") == 32


@pytest.mark.parametrize("alias", sorted(SECTION_ALIASES))
def test_section_alias_means_its_layer_type(alias):
    cfg = parse_cfg(f"[net]\nwidth=8\n[{alias}]\n")
    section = cfg.sections[1]
    assert section.type == SECTION_ALIASES[alias]
    assert section.name == alias


@pytest.mark.parametrize("alias, canonical", [
    ("conv", "convolutional"), ("max", "maxpool"), ("avg", "avgpool"), ("soft", "softmax"),
    ("conn", "connected"), ("local_avg", "local_avgpool"), ("network", "net"),
    ("lrn", "normalization"),
])
def test_aliases_named_in_darknet_string_to_layer_type(alias, canonical):
    assert SECTION_ALIASES[alias] == canonical


def test_repeated_option_warns_and_the_first_one_wins():
    cfg = parse_cfg("[net]\nbatch=64\nbatch=1\n")
    assert cfg.sections[0].int("batch") == 64
    (warning,) = cfg.diagnostics
    assert warning.severity == "warning" and warning.line == 3
    assert "line 2" in warning.message and "batch" in warning.message


@pytest.mark.parametrize("line, what", [("filters", "is not key=value"),
                                        ("filters=", "has no value"),
                                        ("=16", "is not key=value")])
def test_unparsable_option_line_is_a_warning_naming_its_line(line, what):
    cfg = parse_cfg(f"[net]\nwidth=8\n[conv]\n{line}\nsize=3\n")
    (warning,) = cfg.diagnostics
    assert warning.line == 4 and what in warning.message
    assert "filters" not in cfg.sections[1].options
    assert cfg.sections[1].options["size"].line == 5


@pytest.mark.parametrize("text, line, words", [
    ("width=8\n[net]\n", 1, "before any [section]"),
    ("[net]\nwidth=8\n\n[conv\nsize=3\n", 4, "malformed section header"),
    ("[net]\n[]\n", 2, "malformed section header"),
    ("# only comments\n\n; nothing else\n", None, "no [sections]"),
])
def test_unusable_cfg_raises_cfg_error_naming_the_line(text, line, words):
    with pytest.raises(CfgError) as info:
        parse_cfg(text, "bad.cfg")
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith("bad.cfg" + (f":{line}" if line else ""))


def test_empty_binary_and_missing_files_raise_cfg_error(tmp_path):
    empty = tmp_path / "empty.cfg"
    empty.write_bytes(b"  \n\n")
    binary = tmp_path / "model.weights"
    binary.write_bytes(b"\x00\x00\x00\x00\x02\x00\x00\x00")
    for path, words in [(empty, "empty"), (binary, "NUL"), (tmp_path / "nope.cfg", "cannot read"),
                        (tmp_path, "cannot read")]:
        with pytest.raises(CfgError, match=words) as info:
            read_cfg(path)
        assert str(path) in str(info.value)


def test_typed_getters_follow_atoi_atof_and_name_the_line_on_garbage():
    section = parse_cfg("[net]\na=3\nb=2.7\nc=1,2,,3,\nd=0.5,1e-3\ne=abc\nf=\n").sections[0]
    assert section.int("a") == 3
    assert section.int("b") == 2
    assert section.float("b") == 2.7
    assert section.ints("c") == [1, 2, 3]
    assert section.floats("d") == [0.5, 0.001]
    assert section.int("missing", 7) == 7
    assert section.str("missing", "x") == "x"
    with pytest.raises(CfgError) as info:
        section.int("e")
    assert info.value.line == 6 and "expected an integer" in str(info.value)
    with pytest.raises(CfgError, match="expected a number"):
        section.float("e")


def test_read_keys_are_tracked_and_the_rest_reported_unused():
    section = parse_cfg("[conv]\nfilters=3\nsize=1\ntypo=2\n").sections[0]
    section.int("filters")
    section.ignore("size")
    assert [(o.key, o.line) for o in section.unused_keys()] == [("typo", 4)]


def test_section_line_of_falls_back_to_the_section_line():
    section = parse_cfg("\n\n[conv]\nsize=3\n").sections[0]
    assert section.line_of("size") == 4
    assert section.line_of("filters") == 3


def test_inline_comment_is_kept_beside_the_option():
    section = parse_cfg("[conv]\nactivation = leaky  # was mish\nsize=3\n").sections[0]
    assert section.options["activation"].comment == "# was mish"
    assert section.options["size"].comment == ""
    assert section.str("activation") == "leaky"
    assert [o.key for o in section.commented_text_options()] == ["activation"]
