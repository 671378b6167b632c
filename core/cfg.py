"""Darknet .cfg text -> sections with options, every one carrying its line number.

Follows `read_cfg` / `read_option` / `strip` in Darknet's src/parser.c, src/option_list.c
and src/utils.c, plus what users need that Darknet never checks (line numbers in every
message, inline comments, a BOM, CRLF).
"""

from __future__ import annotations

import builtins
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import overload

from darknet_inspector.core.errors import CfgError, Diagnostic
from darknet_inspector.core.limits import MAX_SECTIONS

SECTION_ALIASES: dict[str, str] = {
    "conv": "convolutional",
    "deconv": "deconvolutional",
    "max": "maxpool",
    "avg": "avgpool",
    "soft": "softmax",
    "conn": "connected",
    "local_avg": "local_avgpool",
    "network": "net",
    "lrn": "normalization",
    "silence": "empty",
}

MAX_CFG_BYTES = 16 * 1024 * 1024
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MAX_TEXT_OPTION = 256
_INLINE_COMMENT = re.compile(r"[#;]")
_WHITESPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def canonical_section_name(name: str) -> str:
    """The layer type a section name means: Darknet's `string_to_layer_type` (src/parser.c)."""
    return SECTION_ALIASES.get(name, name)


@dataclass
class Option:
    key: str
    value: str
    line: int
    comment: str = ""  # an inline `#`/`;` comment cut off after the value, if any


@dataclass
class Section:
    """One `[type]` block. Typed getters record which keys a layer actually read."""

    type: str
    name: str
    line: int
    path: str = "<cfg>"
    options: dict[str, Option] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    read_as_text: set[str] = field(default_factory=set)

    def has(self, key: str) -> bool:
        return key in self.options

    def line_of(self, key: str) -> int:
        opt = self.options.get(key)
        return opt.line if opt else self.line

    def raw(self, key: str) -> str | None:
        self.used.add(key)
        opt = self.options.get(key)
        return opt.value if opt else None

    def ignore(self, *keys: str) -> None:
        """Mark keys as known (training-only options a viewer has no use for)."""
        self.used.update(keys)

    def _error(self, key: str, message: str) -> CfgError:
        return CfgError(f"[{self.name}] option {key}: {message}", self.path, self.line_of(key))

    # The getters are named for the type they return, so inside this class `str`, `int`
    # and `float` below them mean the methods: annotations spell the types `builtins.str`.
    # With a default they never return None.
    @overload
    def str(self, key: str, default: str) -> str: ...
    @overload
    def str(self, key: str, default: None = None) -> str | None: ...

    def str(self, key: str, default: str | None = None) -> str | None:
        self.read_as_text.add(key)
        value = self.raw(key)
        if value is not None and len(value) > MAX_TEXT_OPTION:
            raise self._error(key, f"{shown(value)} is too long for a name or a path (at most "
                              f"{MAX_TEXT_OPTION} characters)")
        return default if value is None or value == "" else value

    def commented_text_options(self) -> builtins.list[Option]:
        """Text options (e.g. `activation=`) followed by an inline comment on their line."""
        return [self.options[key] for key in sorted(self.read_as_text)
                if key in self.options and self.options[key].comment]

    @overload
    def int(self, key: builtins.str, default: builtins.int) -> builtins.int: ...
    @overload
    def int(self, key: builtins.str, default: None = None) -> builtins.int | None: ...

    def int(self, key: builtins.str, default: builtins.int | None = None) -> builtins.int | None:
        value = self.raw(key)
        if value is None or value == "":
            return default
        return self._to_int(key, value)

    @overload
    def float(self, key: builtins.str, default: builtins.float) -> builtins.float: ...
    @overload
    def float(self, key: builtins.str, default: None = None) -> builtins.float | None: ...

    def float(self, key: builtins.str,
              default: builtins.float | None = None) -> builtins.float | None:
        value = self.raw(key)
        if value is None or value == "":
            return default
        return self._to_float(key, value)

    @overload
    def ints(self, key: builtins.str,
             default: builtins.list[builtins.int]) -> builtins.list[builtins.int]: ...
    @overload
    def ints(self, key: builtins.str,
             default: None = None) -> builtins.list[builtins.int] | None: ...

    def ints(self, key: builtins.str, default: builtins.list[builtins.int] | None = None
             ) -> builtins.list[builtins.int] | None:
        value = self.raw(key)
        if value is None or value == "":
            return default
        return [self._to_int(key, v) for v in _split_list(value)]

    @overload
    def floats(self, key: builtins.str,
               default: builtins.list[builtins.float]) -> builtins.list[builtins.float]: ...
    @overload
    def floats(self, key: builtins.str,
               default: None = None) -> builtins.list[builtins.float] | None: ...

    def floats(self, key: builtins.str, default: builtins.list[builtins.float] | None = None
               ) -> builtins.list[builtins.float] | None:
        value = self.raw(key)
        if value is None or value == "":
            return default
        return [self._to_float(key, v) for v in _split_list(value)]

    def _to_int(self, key: builtins.str, text: builtins.str) -> builtins.int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None:
            try:
                number = float(text)
            except ValueError:
                raise self._error(key, f"expected an integer, found {shown(text)}") from None
            if not number == number or number in (float("inf"), float("-inf")):
                raise self._error(key, f"expected an integer, found {shown(text)}")
            value = int(number)
        if not INT_MIN <= value <= INT_MAX:
            raise self._error(key, f"{shown(text)} does not fit the 32-bit int Darknet reads "
                              f"it into ({INT_MIN}..{INT_MAX})")
        return value

    def _to_float(self, key: builtins.str, text: builtins.str) -> builtins.float:
        try:
            return float(text)
        except ValueError:
            raise self._error(key, f"expected a number, found {shown(text)}") from None

    def unused_keys(self) -> builtins.list[Option]:
        return [opt for key, opt in self.options.items() if key not in self.used]


NAME_LIMIT = 60
"""Characters of a section name or option key kept (Darknet's longest are ~20): a longer
one is unknown anyway, and messages echo it (a 1 MB name froze the GUI)."""


def echoed_name(name: str, limit: int = NAME_LIMIT) -> str:
    """A section name or key as messages may echo it: cut to `limit` characters plus its
    length when longer (it stays unknown: no Darknet name is that long)."""
    if len(name) <= limit:
        return name
    return f"{name[:limit]}... ({len(name):,} characters)"


def shown(text: str, limit: int = 60) -> str:
    """`text` quoted for a one-line message, cut short when long (a cfg line can be huge)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def _split_list(value: str) -> list[str]:
    return [v for v in value.split(",") if v != ""]


@dataclass
class Cfg:
    path: str
    text: str
    sections: list[Section]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)

    def lines(self) -> list[str]:
        return split_lines(self.text)


def split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: LF, CRLF or CR ends a line, nothing else does
    (`str.splitlines` would also break on form feeds and U+2028 and shift line numbers)."""
    return _LINE_BREAK.split(text)


def decode_cfg_bytes(data: bytes, path: str) -> str:
    """Bytes -> text: UTF-8 (BOM dropped), Latin-1 as a fallback; binary files refused."""
    if b"\x00" in data:
        swapped = (" and looks like a .weights file: are the cfg and the weights swapped? "
                   "(the cfg comes first)") if str(path).lower().endswith(".weights") else ""
        raise CfgError(f"this is not a text cfg file (it contains NUL bytes){swapped}", path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def clean_line(line: str) -> str:
    """A cfg line as Darknet sees it: comment cut off, every whitespace removed (`strip`)."""
    match = _INLINE_COMMENT.search(line)
    if match:
        line = line[: match.start()]
    return _WHITESPACE.sub("", line)


def inline_comment(line: str) -> str:
    """The `#`/`;` comment after an option on its line ("" when there is none)."""
    match = _INLINE_COMMENT.search(line)
    return line[match.start():].strip() if match else ""


def text_value_comment_warning(section: Section, option: Option) -> str:
    """Darknet cuts comments only at the start of a line (`read_cfg`, src/parser.c): for
    a numeric value atoi/atof stop at the `#`, but a text value keeps the comment, so
    `activation=leaky # x` names an unknown activation and Darknet runs relu."""
    darknet_sees = option.value + option.comment.replace(" ", "").replace("\t", "")
    return (f"{option.key}={option.value} on line {option.line} of [{section.name}] is followed "
            f"by a comment: Darknet reads the whole {darknet_sees!r} as the value (an unknown "
            f"name there; e.g. an activation becomes relu), this tool uses {option.value!r}. "
            "Move the comment to its own line")


def parse_cfg(text: str, path: str = "<cfg>") -> Cfg:
    """Parse cfg text. Raises CfgError only when nothing usable can be made of it."""
    sections: list[Section] = []
    diagnostics: list[Diagnostic] = []
    current: Section | None = None
    text = text.removeprefix("\ufeff")
    for number, raw_line in enumerate(split_lines(text), start=1):
        line = clean_line(raw_line)
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise CfgError(f"malformed section header {shown(raw_line.strip())}", path,
                               number)
            if len(sections) > MAX_SECTIONS:
                raise CfgError(f"more than {MAX_SECTIONS:,} sections: this tool builds at most "
                               f"{MAX_SECTIONS:,} layers (Darknet models have hundreds); is "
                               "this really a cfg?", path, number)
            name = echoed_name(line[1:-1])
            current = Section(canonical_section_name(name), name, number, path)
            sections.append(current)
            continue
        if current is None:
            raise CfgError(
                f"option {shown(raw_line.strip())} appears before any [section]", path, number
            )
        key, sep, value = line.partition("=")
        key = echoed_name(key)
        if not sep or not key or not value:
            what = "has no value" if sep and key else "is not key=value"
            diagnostics.append(Diagnostic(
                "warning", f"line {number}: {shown(raw_line.strip())} {what}; Darknet ignores "
                "this line", None, number))
            continue
        if key in current.options:
            first = current.options[key].line
            diagnostics.append(Diagnostic(
                "warning", f"option {key} repeated in [{current.name}] on line {number}; "
                f"Darknet uses the first one (line {first})", None, number))
            continue
        current.options[key] = Option(key, value, number, inline_comment(raw_line))
    if not sections:
        raise CfgError("no [sections] found: is this a Darknet cfg file?", path)
    return Cfg(path, text, sections, diagnostics)


def read_cfg(path: str | os.PathLike) -> Cfg:
    """Read and parse a cfg file; unreadable files raise CfgError naming the path."""
    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or /dev/zero would never end
            raise CfgError("cannot read cfg: not a regular file (a folder, device or pipe)", path)
        size = os.path.getsize(path)
        if size > MAX_CFG_BYTES:
            raise CfgError(f"file is {size:,} bytes, too large for a cfg", path)
        with open(path, "rb") as handle:
            data = handle.read(MAX_CFG_BYTES + 1)
        if len(data) > MAX_CFG_BYTES:
            raise CfgError(f"file grew past {MAX_CFG_BYTES:,} bytes while it was read", path)
    except OSError as exc:
        raise CfgError(f"cannot read cfg: {exc.strerror or exc}", path) from None
    if not data.strip():
        raise CfgError("the cfg file is empty", path)
    return parse_cfg(decode_cfg_bytes(data, path), path)
