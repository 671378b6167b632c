"""Darknet Inspector: open, debug and convert Darknet models (.cfg + .weights).

Installed, this package holds `core` (the engine, no Qt), `gui` (the desktop app) and
`resources` (data files). In a source checkout those three folders sit beside this one,
at the top of the repository (the product's layout); the checkout's folder is then added
to this package's search path, so `darknet_inspector.core` imports the same way in both.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def _checkout_root() -> Path | None:
    """The repository root when this package runs from a source checkout, else None."""
    here = Path(__file__).resolve().parent
    if (here / "core").is_dir():
        return None
    root = here.parent
    return root if (root / "core" / "__init__.py").is_file() else None


_root = _checkout_root()
if _root is not None and str(_root) not in __path__:
    __path__.append(str(_root))
