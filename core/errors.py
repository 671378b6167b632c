"""Error types that may escape the engine, and the diagnostic record."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class InspectorError(Exception):
    """Base of every error the engine raises on purpose: the message is for the user."""


class CfgError(InspectorError):
    """A cfg file that cannot be read at all (or an option value that cannot be parsed)."""

    def __init__(self, message: str, path: str = "<cfg>", line: int | None = None):
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class WeightsError(InspectorError):
    """A weights file that cannot be read at all (missing, empty, no header)."""


class UsageError(InspectorError):
    """Unusable arguments (bad path, bad size, missing CUDA, ...)."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a model: never raised, collected and shown."""

    severity: str  # "error" | "warning"
    message: str
    layer: int | None = None
    line: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = []
        if self.layer is not None:
            where.append(f"layer {self.layer}")
        if self.line is not None:
            where.append(f"line {self.line}")
        prefix = f"[{', '.join(where)}] " if where else ""
        return f"{self.severity}: {prefix}{self.message}"
