"""The "Tree file..." row of the Detection preview: a cfg with a `tree=` layer (YOLO9000)
runs only with the tree file the user names here; the choice is remembered per model
(AppSettings.tree_file) and the model is opened again with it."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from darknet_inspector.core.darknet_tree import TreeFileError, read_tree
from darknet_inspector.core.network import Network
from darknet_inspector.gui import palette
from darknet_inspector.gui.document import ModelDocument
from darknet_inspector.gui.settings import AppSettings


def tree_row_text(network: Network | None) -> tuple[str, bool] | None:
    """What the row says for this network (text, is it a problem); None: no row."""
    if network is None or not network.tree_layers:
        return None
    layer = network.tree_layers[0]
    tree = getattr(layer.params, "tree", "")
    if network.tree is None:
        line = layer.section.line_of("tree")
        return (f"[{layer.section.name}] needs its tree file to run (cfg line {line}: "
                f"tree={tree}): choose it", True)
    problem = next((d.message for d in network.errors if d.layer == layer.index), None)
    if problem is not None:
        return problem, True
    return f"tree: {os.path.basename(network.tree.path)}", False


class TreeFileRow(QWidget):
    """Shown only for a model with a `tree=` layer; hidden otherwise."""

    def __init__(self, document: ModelDocument, settings: AppSettings,
                 log: Callable[..., None], parent=None):
        super().__init__(parent)
        self.doc = document
        self.settings = settings
        self.log = log
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton("Tree file\u2026")
        self.button.setToolTip("The tree file of this model's tree= layer (YOLO9000's "
                               "9k.tree); the path written in the cfg is never opened")
        self.button.clicked.connect(self.ask_tree)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        document.network_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        shown = tree_row_text(self.doc.network)
        self.setVisible(shown is not None)
        if shown is None:
            return
        text, problem = shown
        self.label.setText(text)
        self.label.setStyleSheet(f"color: {palette.ERROR_TEXT.name()};" if problem else "")
        tree = self.doc.network.tree if self.doc.network is not None else None
        self.label.setToolTip(tree.path if tree is not None else "")

    def ask_tree(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Tree file", self.settings.folder("tree"),
                                              "Tree files (*.tree);;All files (*)")
        if path:
            self.choose(path)

    def choose(self, path: str) -> bool:
        """Check the file, remember it for this cfg and open the model again with it."""
        try:
            read_tree(path)
        except TreeFileError as exc:
            self.label.setText(str(exc))
            self.label.setStyleSheet(f"color: {palette.ERROR_TEXT.name()};")
            self.log(f"tree file not used: {exc}", "error")
            return False
        cfg = self.doc.cfg_path
        if not cfg:
            return False
        self.settings.remember_folder("tree", path)
        self.settings.set_tree_file(cfg, path)
        self.log(f"tree file for {os.path.basename(cfg)}: {path}")
        self.doc.reload_requested.emit()
        return True
