"""Watch the open cfg and weights on disk and say, once, when either changed.

Editors save by writing a new file and renaming it over the old one; QFileSystemWatcher
then drops the path. The folders are watched too, and a path is re-added whenever it
exists again; a change counts only when the file's size or modification time moved, so
a burst of events (write, chmod, rename) becomes one reload after a quiet moment."""

from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

QUIET_MS = 400


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class FileWatch(QObject):
    """`changed()` after a watched file was modified or replaced and has been quiet for
    `quiet_ms`; a file that is gone does not fire until it is back."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None, quiet_ms: int = QUIET_MS):
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._poke)
        self._watcher.directoryChanged.connect(self._poke)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(quiet_ms)
        self._timer.timeout.connect(self._settled)
        self._stamps: dict[str, tuple[int, int] | None] = {}

    @property
    def paths(self) -> list[str]:
        return list(self._stamps)

    def watch(self, paths: list[str]) -> None:
        """Watch exactly these files (and their folders) from now on."""
        self._timer.stop()
        for old in (self._watcher.files(), self._watcher.directories()):
            if old:
                self._watcher.removePaths(old)
        self._stamps = {os.path.abspath(p): _stamp(p) for p in paths if p}
        self._rearm()

    def _rearm(self) -> None:
        watched = set(self._watcher.files()) | set(self._watcher.directories())
        wanted = {p for p in self._stamps if os.path.exists(p)}
        wanted |= {os.path.dirname(p) for p in self._stamps if os.path.isdir(os.path.dirname(p))}
        missing = sorted(wanted - watched)
        if missing:
            self._watcher.addPaths(missing)

    def _poke(self, _path: str) -> None:
        self._rearm()
        self._timer.start()

    def _settled(self) -> None:
        self._rearm()
        moved = False
        for path, before in self._stamps.items():
            now = _stamp(path)
            if now is not None and now != before:
                self._stamps[path] = now
                moved = True
        if moved:
            self.changed.emit()
