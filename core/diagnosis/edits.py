"""Small cfg edits, applied in memory: to the cfg text (the fix a user saves) and to
the built layers (a quick rebuild from the edited layer on, for the search)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from darknet_inspector.core.cfg import Option, Section, parse_cfg, split_lines
from darknet_inspector.core.errors import CfgError, Diagnostic
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network, _build_layer, build_network


@dataclass(frozen=True)
class CfgEdit:
    """Set `key=value` in layer `layer`'s section, delete that section, or insert the
    section text `insert` before it."""

    layer: int
    key: str = ""
    value: str = ""
    delete: bool = False
    insert: str = ""


def _section_end(network: Network, index: int, line_count: int) -> int:
    """The last line (1-based) of layer `index`'s section."""
    following = index + 1
    if following < len(network.layers):
        return network.layers[following].section.line - 1
    return line_count


def apply_to_text(network: Network, edits: Sequence[CfgEdit]) -> str:
    """The cfg text with `edits` made; every other line kept as it is."""
    lines = split_lines(network.cfg.text)
    # lambdas whose defaults bind this edit's values (typed ..., as they have defaults)
    operations: list[tuple[int, int, Callable[..., None]]] = []
    for edit in edits:
        section = network.layers[edit.layer].section
        if edit.delete:
            end = _section_end(network, edit.layer, len(lines))
            operations.append((section.line, 0, lambda s=section.line, e=end:
                               lines.__delitem__(slice(s - 1, e))))
        elif edit.insert:
            block = edit.insert.rstrip("\n").split("\n") + [""]
            operations.append((section.line, 1, lambda s=section.line, b=block:
                               lines.__setitem__(slice(s - 1, s - 1), b)))
        elif section.has(edit.key):
            at = section.line_of(edit.key)
            operations.append((at, 2, lambda a=at, k=edit.key, v=edit.value:
                               lines.__setitem__(a - 1, f"{k}={v}")))
        else:
            at = section.line
            operations.append((at, 2, lambda a=at, k=edit.key, v=edit.value:
                               lines.insert(a, f"{k}={v}")))
    for _, _, operation in sorted(operations, key=lambda op: (op[0], op[1]), reverse=True):
        operation()
    return "\n".join(lines)


def edited_network(network: Network, edits: Sequence[CfgEdit]) -> Network | None:
    """The network the edited cfg text builds (None when it no longer parses)."""
    try:
        cfg = parse_cfg(apply_to_text(network, edits), network.cfg.path)
        return build_network(cfg, network.net.width, network.net.height, network.tree)
    except CfgError:
        return None


def _with_option(section: Section, key: str, value: str) -> Section:
    options = dict(section.options)
    options[key] = Option(key, value, section.line_of(key))
    return dataclasses.replace(section, options=options, used=set(), read_as_text=set())


def inserted_section(text: str, path: str) -> Section:
    return parse_cfg(text, path).sections[0]


def rebuilt_layers(network: Network, edit: CfgEdit, until: int | None = None
                   ) -> list[Layer] | None:
    """Layers of the network with one edit made, rebuilt from the edited layer on (the
    ones before it are reused; `until` stops after that many layers). None when the
    edit gives a layer error the network did not already have."""
    sections = [layer.section for layer in network.layers]
    at = edit.layer
    if edit.delete:
        del sections[at]
    elif edit.insert:
        sections.insert(at, inserted_section(edit.insert, network.cfg.path))
    else:
        sections[at] = _with_option(sections[at], edit.key, edit.value)
    layers = list(network.layers[:at])
    diagnostics: list[Diagnostic] = []
    known = {d.layer for d in network.errors}
    stop = len(sections) if until is None else min(until, len(sections))
    for index in range(at, stop):
        layers.append(_build_layer(index, sections[index], network.net, layers, diagnostics,
                                   network.tree))
        if any(d.severity == "error" and d.layer not in known for d in diagnostics):
            return None
    return layers
