"""The import contract of the engine (issue 10): `core` never reaches Qt or the GUI, and no
import cycle runs through `core`. What only looks at a model (the layer types' shape side,
the weights reader, tensor statistics, the diagnosis) never reaches torch (issue 15): that
is core.torch_layers' job.

Every module under core/ is parsed with `ast`; every import counts, at module level or
inside a function (a lazy import is still a dependency). Imports under `if TYPE_CHECKING:`
never run, so they count for the Qt rule but not for cycles (annotations may name a type
of a module that depends on this one). An import `a.b.c` is an edge to `a.b.c` and to
each of its packages that Python runs first (`core.layers.base` runs
`core/layers/__init__.py`), except the importer's own packages: a package's `__init__`
importing its own submodules is how a package is built, not a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "darknet_inspector.core"
FORBIDDEN = ("darknet_inspector.gui", "darknet_inspector.launcher", "PySide6", "PyQt5",
             "PyQt6", "pyqtgraph", "shiboken6")


@dataclass(frozen=True)
class Import:
    target: str  # the imported module, absolute
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`, never run


def core_modules() -> dict[str, Path]:
    """Every module under core/, by its installed name."""
    modules = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        parts = list(path.relative_to(ROOT / "core").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([PACKAGE, *parts])] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module an ImportFrom names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """All imports of one module, including those inside functions and TYPE_CHECKING."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, node.lineno, type_checking) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{base}.{alias.name}"  # `from pkg import submodule`
                target = sub if sub in known else base
                found.append(Import(target, node.lineno, type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(tree, False)
    return found


def import_graph() -> dict[str, list[Import]]:
    modules = core_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


TORCH = ("torch", f"{PACKAGE}.torch_layers")
TORCH_FREE = (f"{PACKAGE}.layers", f"{PACKAGE}.activations", f"{PACKAGE}.cfg",
              f"{PACKAGE}.network", f"{PACKAGE}.weights", f"{PACKAGE}.tensor_stats",
              f"{PACKAGE}.report", f"{PACKAGE}.diagnosis", f"{PACKAGE}.memory",
              f"{PACKAGE}.rewrite", f"{PACKAGE}.jobs.stream", f"{PACKAGE}.jobs.diagnose",
              f"{PACKAGE}.numpy_layers", f"{PACKAGE}.numpy_engine", f"{PACKAGE}.decoding",
              f"{PACKAGE}.nms")
"""What `inspect` and the app's layer tree and weights stream run, and the numpy engine
with the head decoding and NMS (`detect` on CPU without torch's import): no torch in
them."""


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in prefixes)


def _forbidden(name: str) -> bool:
    return _within(name, FORBIDDEN)


def forbidden_paths(graph: dict[str, list[Import]], forbidden: tuple[str, ...] = FORBIDDEN,
                    starts: tuple[str, ...] = (PACKAGE,)) -> list[str]:
    """For each core module under `starts` that reaches a `forbidden` module (through
    any import, lazy too, except TYPE_CHECKING ones for torch), the chain that does."""
    problems = []
    for start in [m for m in graph if _within(m, starts)]:
        seen, stack = {start}, [[start]]
        while stack:
            chain = stack.pop()
            for imp in graph.get(chain[-1], []):
                if forbidden is TORCH and imp.type_checking:
                    continue
                if _within(imp.target, forbidden):
                    problems.append(" -> ".join(chain + [f"{imp.target} (line {imp.line})"]))
                elif imp.target in graph and imp.target not in seen:
                    seen.add(imp.target)
                    stack.append(chain + [imp.target])
    return problems


def _runs(module: str, target: str) -> list[str]:
    """What importing `target` from `module` runs: the target and each of its packages
    that is not already a package of `module` (those are being imported already)."""
    parts = target.split(".")
    own = {".".join(module.split(".")[:n]) for n in range(1, module.count(".") + 1)}
    packages = [".".join(parts[:n]) for n in range(1, len(parts))]
    return [p for p in packages if p not in own] + [target]


def find_cycle(graph: dict[str, list[Import]]) -> list[str] | None:
    """One import cycle among core modules (run-time imports only), or None."""
    edges = {m: sorted({t for i in imps if not i.type_checking for t in _runs(m, i.target)
                        if t in graph and t != m}) for m, imps in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path):
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a.t\n"
              "def f():\n    from . import sibling\n    from .. import cfg\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = imports_of(f"{PACKAGE}.layers.probe", path,
                       {f"{PACKAGE}.layers.sibling", f"{PACKAGE}.cfg"})
    assert Import("a.t", 3, True) in found
    assert Import(f"{PACKAGE}.layers.sibling", 5, False) in found
    assert Import(f"{PACKAGE}.cfg", 6, False) in found


def test_find_cycle_reports_the_cycle():
    graph = {m: [Import(t, 1, False)] for m, t in (("a", "b"), ("b", "c"), ("c", "a"))}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    graph["c"] = [Import("a", 1, True)]
    assert find_cycle(graph) is None


def test_core_never_reaches_qt_or_the_gui():
    assert forbidden_paths(import_graph()) == []


def test_what_only_looks_never_reaches_torch():
    """core.layers, the reader, statistics and diagnosis import no torch, lazily or not
    (their torch modules and decoders are core.torch_layers, registered by type)."""
    assert forbidden_paths(import_graph(), TORCH, TORCH_FREE) == []


def test_the_torch_rule_sees_a_lazy_torch_import(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    import torch.nn\n")
    graph = {f"{PACKAGE}.layers.probe": imports_of(f"{PACKAGE}.layers.probe", path, set())}
    assert forbidden_paths(graph, TORCH, TORCH_FREE) == [
        f"{PACKAGE}.layers.probe -> torch.nn (line 2)"]


def test_no_import_cycle_in_core():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in core: " + " -> ".join(cycle or [])


def test_importing_all_of_core_loads_no_qt():
    """The same rule at run time, through third-party packages too: every core module
    imported in a fresh interpreter leaves no Qt or gui module in sys.modules."""
    names = sorted(core_modules())
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            f"bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))\n"
            "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
