"""What a tab that needs a loaded model says while it cannot run: the next step, not a
generic "open a cfg and its weights" when both are already open."""

from __future__ import annotations

import os


def model_hint(doc, doing: str) -> str:
    """The one thing missing before `doing` ("verifying", "comparing") can start."""
    if doc.network is None:
        if doc.cfg_path and doc.cfg_error:
            return f"{os.path.basename(doc.cfg_path)} could not be read (see Problems)."
        return "Open a cfg and its weights first (File \u2192 Open cfg\u2026)."
    if not doc.weights_path:
        return (f"Open the weights for {os.path.basename(doc.cfg_path or 'the cfg')} "
                "(File \u2192 Open weights\u2026).")
    if doc.stream_state == "streaming":
        return "Reading the weights\u2026"
    if doc.stream_state in ("cancelled", "failed"):
        return ("The weights were not read to the end: reload them (F5) before "
                f"{doing}.")
    if doc.errors():
        return f"The model has errors (see Problems): fix them before {doing}."
    return "Ready."
