"""Save one tensor as .npy (the app's Export .npy), written atomically."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from darknet_inspector.core.atomic import atomic_write


def save_array(values: np.ndarray, path: str) -> Generator[None, None, str]:
    """Write one tensor as .npy, atomically."""
    with atomic_write(path) as out:
        np.save(out, np.asarray(values))
    yield from ()
    return path
