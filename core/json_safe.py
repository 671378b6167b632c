"""JSON that every parser reads: Python's `json` writes NaN and Infinity, which are not JSON."""

from __future__ import annotations

import json
import math
from typing import Any

NON_FINITE_KEY = "non_finite"
"""Beside a null that was NaN or Inf: {key: "nan" | "inf" | "-inf"} of that object."""


def _word(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def finite_json(value: Any) -> Any:
    """A copy of `value` where every NaN/Inf float is None; a dict that held one gets
    `non_finite` naming each such key and what it was (a list element: its index)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        lost: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                lost[str(key)] = _word(item)
            out[key] = finite_json(item)
        if lost:
            out[NON_FINITE_KEY] = {**out.get(NON_FINITE_KEY, {}), **lost}
        return out
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps` of `finite_json(value)`, refusing anything else that is not JSON."""
    return json.dumps(finite_json(value), allow_nan=False, **options)
