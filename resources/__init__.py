"""Data files shipped with the app (icon, .desktop entry, the demo model); no code
besides `resource_path`, which finds them where this package is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """A shipped file or folder, e.g. `resource_path("demo", "demo.cfg")`."""
    return Path(str(files(__name__).joinpath(*parts)))
