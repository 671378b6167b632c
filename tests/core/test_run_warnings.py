"""Commands that run a model (convert, detect, dump) print the cfg's warnings on stderr,
one line each and capped, and refuse what Darknet cannot run as defined: a [yolo] mask
entry past num with no anchor listed for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darknet_inspector.core.cli import main
from darknet_inspector.core.weights import WeightsHeader, random_weights, serialize_weights
from tests.bad_inputs.corpus import BASE_CFG, DETECT_CFG, jpeg
from tests.helpers import net_from_text


def model_files(folder: Path, cfg_text: str) -> tuple[str, str]:
    cfg, weights = folder / "model.cfg", folder / "model.weights"
    cfg.write_text(cfg_text)
    network = net_from_text(cfg_text)
    weights.write_bytes(b"".join(serialize_weights(network, random_weights(network),
                                                   WeightsHeader())))
    return str(cfg), str(weights)


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "warning" in line]


def test_convert_prints_an_unknown_activation_with_its_line(tmp_path, capsys):
    cfg, weights = model_files(tmp_path, BASE_CFG.replace("activation=leaky",
                                                          "activation=swishh"))
    assert main(["convert", cfg, weights, "-o", str(tmp_path / "m.pt")]) == 0
    (line,) = [w for w in warning_lines(capsys.readouterr().err) if "swishh" in w]
    assert f"{cfg}:" in line


def test_detect_prints_missing_anchors(tmp_path, capsys):
    cfg, weights = model_files(tmp_path, DETECT_CFG.replace("num=3", "num=9").replace(
        "mask=0,1,2", "mask=0,1,2"))
    image = tmp_path / "p.jpg"
    image.write_bytes(jpeg())
    main(["detect", cfg, weights, str(image)])
    assert any("num=9 needs 18 anchor values" in w
               for w in warning_lines(capsys.readouterr().err))


def test_dump_prints_the_cfg_warnings(tmp_path, capsys):
    cfg, weights = model_files(tmp_path, BASE_CFG.replace("activation=leaky",
                                                          "activation=swishh"))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 32, 32), np.float32))
    assert main(["dump", cfg, weights, "--input", str(x), "-o", str(tmp_path / "o.npz")]) == 0
    assert any("swishh" in w for w in warning_lines(capsys.readouterr().err))


def test_many_warnings_are_capped_at_ten_lines(tmp_path, capsys):
    text = BASE_CFG.replace("[net]\n", "[net]\n" + "".join(f"bogus{i}=1\n" for i in range(15)))
    cfg, weights = model_files(tmp_path, text)
    assert main(["convert", cfg, weights, "-o", str(tmp_path / "m.pt")]) == 0
    lines = warning_lines(capsys.readouterr().err)
    assert len(lines) == 11
    assert "... and 5 more" in lines[-1]


def test_a_mask_past_num_without_anchors_is_refused(tmp_path, capsys):
    cfg, _ = model_files(tmp_path, DETECT_CFG)
    Path(cfg).write_text(DETECT_CFG.replace("mask=0,1,2", "mask=0,1,7"))
    weights = tmp_path / "model.weights"
    assert main(["convert", cfg, str(weights), "-o", str(tmp_path / "m.pt")]) == 1
    err = capsys.readouterr().err
    assert "mask entries 7 point past the num=3 anchors and past the 3 anchor pairs" in err


def test_a_mask_past_num_with_anchors_listed_runs_with_a_warning(tmp_path, capsys):
    text = DETECT_CFG.replace("mask=0,1,2", "mask=0,1,3").replace(
        "anchors=4,6, 8,10, 12,14", "anchors=4,6, 8,10, 12,14, 16,18")
    cfg, weights = model_files(tmp_path, text)
    assert main(["convert", cfg, weights, "-o", str(tmp_path / "m.pt")]) == 0
    assert any("mask entries 3 point past" in w
               for w in warning_lines(capsys.readouterr().err))
