"""Nothing trusted that should not be: paths written inside a cfg are never opened, .pt
files are loaded with weights_only=True, nothing read from a file is evaluated."""

from __future__ import annotations

import ast
import os

import pytest

from darknet_inspector.core.cli import main
from tests.bad_inputs.audit import recording
from tests.bad_inputs.corpus import BASE_CFG, edited
from tests.conftest import ROOT


def cfgs_naming_files(folder) -> dict[str, str]:
    """Cfgs whose options name files Darknet would open while training or testing."""
    secret = {name: folder / f"secret.{name}" for name in ("tree", "map", "counters")}
    for path in secret.values():
        path.write_text("0\n1\n")
    return {
        "softmax-tree": BASE_CFG + f"\n[softmax]\ntree={secret['tree']}\n",
        "region-tree-map": edited(("filters=4", "filters=6"), append=(
            f"[region]\nanchors=1,1\nclasses=1\nnum=1\ntree={secret['tree']}\n"
            f"map={secret['map']}\n")),
        "yolo-map-counters": edited(("filters=4", "filters=6"), append=(
            f"[yolo]\nmask=0\nanchors=4,6\nclasses=1\nnum=1\nmap={secret['map']}\n"
            f"counters_per_class={secret['counters']}\n")),
        "relative-paths": edited(("filters=4", "filters=6"), append=(
            "[yolo]\nmask=0\nanchors=4,6\nclasses=1\nnum=1\nmap=../../secret.map\n"
            "counters_per_class=secret.counters\n")),
    }


@pytest.mark.parametrize("name", ["softmax-tree", "region-tree-map", "yolo-map-counters",
                                  "relative-paths"])
def test_paths_named_in_a_cfg_are_never_opened(name, tmp_path, capsys, monkeypatch):
    from tests.bad_inputs.corpus import base_weights
    from tests.helpers import net_from_text, write_random_weights

    monkeypatch.chdir(tmp_path)
    text = cfgs_naming_files(tmp_path)[name]
    cfg = tmp_path / "model.cfg"
    cfg.write_text(text)
    weights = tmp_path / "model.weights"
    if name == "softmax-tree":
        weights.write_bytes(base_weights())
    else:
        write_random_weights(net_from_text(text), weights)
    with recording() as opened:
        main(["inspect", str(cfg), str(weights)])
        main(["convert", str(cfg), str(weights), "-o", str(tmp_path / "out.pt")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    touched = [o.path for o in opened if "secret" in os.path.basename(o.path)]
    assert touched == []


def _calls(package: str, name: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(
                    func.value, ast.Name) else ""
                if f"{owner}.{called}".lstrip(".") == name or called == name:
                    yield path.relative_to(ROOT), node


def _keyword(node: ast.Call, name: str):
    return next((k.value for k in node.keywords if k.arg == name), None)


@pytest.mark.parametrize("package", ["core", "gui"])
def test_every_torch_load_uses_weights_only(package):
    loads = list(_calls(package, "torch.load"))
    assert loads or package == "gui"  # core reads .pt files: the scan must see it
    for path, node in loads:
        value = _keyword(node, "weights_only")
        assert isinstance(value, ast.Constant) and value.value is True, f"{path}:{node.lineno}"


@pytest.mark.parametrize("package", ["core", "gui"])
def test_nothing_read_is_evaluated_or_unpickled(package):
    for name in ("eval", "exec", "pickle.load", "pickle.loads", "yaml.load", "marshal.loads"):
        found = [f"{p}:{n.lineno}" for p, n in _calls(package, name)  # not module.eval()
                 if not (name in ("eval", "exec") and isinstance(n.func, ast.Attribute))]
        assert found == [], name
    for path, node in _calls(package, "np.load"):
        value = _keyword(node, "allow_pickle")
        assert not (isinstance(value, ast.Constant) and value.value is True), f"{path}"
