"""A guard against a PySide6 reference-count bug that aborts the app on CPython < 3.12.

PySide6 6.12 (seen with Essentials 6.12.0 on CPython 3.11) drops one reference to `None`
on every Qt call that returns nothing (`setText`, `update`, `processEvents`, ...) and to
`True`/`False` on calls that return a bool. CPython 3.12+ makes these objects immortal
(PEP 683), so nothing happens there; on 3.11 their count falls with every call, and once
it reaches zero the interpreter aborts with "Fatal Python error: none_dealloc" — in the
app, after a minute of scrolling the layer tree. The guard gives the three objects a
reserve of references no session can use up.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 2**40
_pinned = False


def needs_pinning() -> bool:
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def pin_singletons() -> None:
    """Add RESERVE references to None, True and False (once per process; a no-op where
    they are immortal)."""
    global _pinned
    if _pinned or not needs_pinning():
        return
    for singleton in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt comes first
        count.value += RESERVE
    _pinned = True
