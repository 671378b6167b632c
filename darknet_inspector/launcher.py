"""The entry point of `darknet-inspector`: the command line, or the desktop app.

Neither core nor gui: the core's command line knows nothing of Qt, and is handed the
app as the `gui` command's runner; the app is imported only when it is asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from darknet_inspector.core.cli import main as cli_main
from darknet_inspector.core.errors import UsageError


def run_desktop_app(cfg: str | None, weights: str | None) -> int:
    """Import and start the desktop app (PySide6 is imported only here)."""
    try:
        from darknet_inspector.gui.app import run_app
    except ImportError as exc:
        raise UsageError(f"the desktop app is not available: {exc}") from None
    return run_app(cfg, weights)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(argv, app=run_desktop_app)


if __name__ == "__main__":
    sys.exit(main())
