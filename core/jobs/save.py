"""Save one tensor as .npy (the app's Export .npy) or a fixed cfg (Save fixed cfg as...),
written atomically."""

from __future__ import annotations

import os
from collections.abc import Generator

import numpy as np

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.errors import UsageError


def save_array(values: np.ndarray, path: str) -> Generator[None, None, str]:
    """Write one tensor as .npy, atomically."""
    with atomic_write(path) as out:
        np.save(out, np.asarray(values))
    yield from ()
    return path


def save_fixed_cfg(text: str, path: str, original: str) -> Generator[None, None, str]:
    """Write a fixed cfg (a Finding's `fixed_cfg`) to a new file, atomically; never over
    the cfg it fixes (UsageError), so the original stays as it was."""
    if os.path.abspath(path) == os.path.abspath(original) or (
            os.path.exists(path) and os.path.exists(original)
            and os.path.samefile(path, original)):
        raise UsageError(f"{path}: is the cfg being fixed; choose a new file for the fix")
    with atomic_write(path) as out:
        out.write(text.encode("utf-8"))
    yield from ()
    return path
