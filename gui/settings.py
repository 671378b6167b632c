"""What the app remembers between runs (QSettings): recent files, folders, layout, thresholds.

Tests hand in their own QSettings (an .ini in a temp folder) so user settings stay untouched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "darknet-inspector"
APPLICATION = "darknet-inspector"
MAX_RECENT = 10


class AppSettings:
    def __init__(self, settings: QSettings | None = None):
        self.qt = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)

    # -- recent files ---------------------------------------------------------------------
    def recent(self) -> list[tuple[str, str | None]]:
        """Recent models as (cfg, weights or None), newest first, existing files only."""
        entries = self.qt.value("recent/models", []) or []
        if isinstance(entries, str):
            entries = [entries]
        found = []
        for entry in entries:
            cfg, _, weights = str(entry).partition("|")
            if os.path.isfile(cfg):
                found.append((cfg, weights if weights and os.path.isfile(weights) else None))
        return found

    def add_recent(self, cfg: str, weights: str | None) -> None:
        """Put a model first; an older entry for the same cfg is replaced."""
        cfg = os.path.abspath(cfg)
        entries = self.qt.value("recent/models", []) or []
        if isinstance(entries, str):
            entries = [entries]
        kept = [e for e in entries if str(e).partition("|")[0] != cfg]
        entry = f"{cfg}|{os.path.abspath(weights) if weights else ''}"
        self.qt.setValue("recent/models", [entry, *kept][:MAX_RECENT])

    # -- folders --------------------------------------------------------------------------
    def folder(self, kind: str) -> str:
        path = str(self.qt.value(f"folders/{kind}", "") or "")
        return path if os.path.isdir(path) else os.path.expanduser("~")

    def remember_folder(self, kind: str, path: str) -> None:
        self.qt.setValue(f"folders/{kind}", os.path.dirname(os.path.abspath(path)))

    # -- numbers --------------------------------------------------------------------------
    def number(self, key: str, default: float) -> float:
        try:
            return float(self.qt.value(f"values/{key}", default))
        except (TypeError, ValueError):
            return default

    def set_number(self, key: str, value: float) -> None:
        self.qt.setValue(f"values/{key}", float(value))

    def text(self, key: str, default: str = "") -> str:
        return str(self.qt.value(f"values/{key}", default) or default)

    def set_text(self, key: str, value: str) -> None:
        self.qt.setValue(f"values/{key}", value)

    # -- a model's own files --------------------------------------------------------------
    def tree_file(self, cfg: str) -> str | None:
        """The tree file the user chose for this cfg's `tree=` layer (YOLO9000), while it
        exists; the path written in the cfg itself is never followed."""
        path = self.text(model_key("tree", cfg))
        return path if path and os.path.isfile(path) else None

    def set_tree_file(self, cfg: str, path: str) -> None:
        self.set_text(model_key("tree", cfg), os.path.abspath(path))

    # -- window layout --------------------------------------------------------------------
    def layout(self, key: str) -> QByteArray | None:
        value = self.qt.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_layout(self, key: str, value: QByteArray) -> None:
        self.qt.setValue(f"layout/{key}", value)

    def sync(self) -> None:
        self.qt.sync()


def model_key(kind: str, cfg_path: str) -> str:
    """The settings key remembering one of a model's files (its tree file, ...)."""
    return f"{kind}/" + os.path.abspath(cfg_path).replace("\\", "/").lstrip("/").replace("/", "|")
