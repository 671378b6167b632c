"""The Detection preview's Tree file... row: a YOLO9000-style cfg names its `tree=` line
until the user picks a tree file, which is remembered per model and runs the model."""

from __future__ import annotations

from tests.core.test_detect import TREE, TREE_CFG
from tests.gui.conftest import open_and_stream
from tests.helpers import write_random_weights

DETECT_TIMEOUT_MS = 60_000


def tree_model(folder):
    from darknet_inspector.core.network import load_network

    cfg, tree, weights = folder / "y9k.cfg", folder / "mine.tree", folder / "y9k.weights"
    cfg.write_text(TREE_CFG)
    tree.write_text(TREE)
    write_random_weights(load_network(cfg), weights, seed=2)
    return cfg, weights, tree


def test_a_tree_cfg_shows_which_line_needs_the_tree_file(qtbot, window, tmp_path):
    cfg, weights, _ = tree_model(tmp_path)
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    row = window.preview.tree_row
    assert row.isVisibleTo(window.preview)
    assert row.label.text() == ("[region] needs its tree file to run (cfg line 24: "
                                "tree=data/9k.tree): choose it")
    assert "color" in row.label.styleSheet()


def test_choosing_the_tree_file_reopens_the_model_with_it_and_remembers_it(
        qtbot, window, settings, tmp_path):
    cfg, weights, tree = tree_model(tmp_path)
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    row = window.preview.tree_row
    with qtbot.waitSignal(window.stream_finished, timeout=20_000):
        assert row.choose(str(tree))
    assert window.doc.network.tree is not None and window.doc.network.runnable
    assert settings.tree_file(str(cfg)) == str(tree)
    assert row.label.text() == "tree: mine.tree" and row.label.styleSheet() == ""
    preview = window.preview
    with qtbot.waitSignal(preview.shown, timeout=DETECT_TIMEOUT_MS):
        preview.open_image(_photo(tmp_path))
    assert preview.error is None
    assert preview.detections and all(d.confidence > 0.5 for d in preview.detections)


def test_the_remembered_tree_file_is_used_when_the_cfg_opens_again(
        qtbot, window, settings, tmp_path):
    cfg, weights, tree = tree_model(tmp_path)
    settings.set_tree_file(str(cfg), str(tree))
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    assert window.doc.network.tree is not None
    assert window.doc.network.tree.path == str(tree)


def test_a_bad_tree_file_is_said_in_the_row_and_not_used(qtbot, window, settings, tmp_path):
    cfg, weights, tree = tree_model(tmp_path)
    tree.write_text("animal -1\nrose 7\n")
    assert open_and_stream(qtbot, window, cfg, weights) == "done"
    row = window.preview.tree_row
    assert not row.choose(str(tree))
    assert row.label.text() == (f"{tree}:2: parent index 7 is out of range: the file has 2 "
                                "lines (indices 0..1)")
    assert settings.tree_file(str(cfg)) is None
    assert window.doc.network.tree is None


def test_a_tree_file_of_another_size_is_the_models_error_in_the_row(
        qtbot, window, settings, tmp_path):
    cfg, weights, tree = tree_model(tmp_path)
    tree.write_text(TREE + "rose 1\n")
    settings.set_tree_file(str(cfg), str(tree))
    window.open_cfg(str(cfg))
    row = window.preview.tree_row
    assert row.label.text().startswith(f"{tree} has 8 classes (lines) but the layer has "
                                       "classes=7")


def test_the_row_is_hidden_for_a_model_without_a_tree(qtbot, window, tmp_path):
    cfg = tmp_path / "plain.cfg"
    cfg.write_text(TREE_CFG.replace("tree=data/9k.tree\n", ""))
    window.open_cfg(str(cfg))
    assert not window.preview.tree_row.isVisibleTo(window.preview)


def _photo(folder) -> str:
    import numpy as np
    from PIL import Image

    path = folder / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (40, 60, 3), np.uint8)).save(path)
    return str(path)
