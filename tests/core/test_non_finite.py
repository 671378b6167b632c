"""NaN and Inf are never hidden: convert's check reports them instead of "max difference
0", detect says its outputs are NaN, and every --json output is JSON (null + a note)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from darknet_inspector.core import json_safe
from darknet_inspector.core.cli import main
from darknet_inspector.core.deploy_formats import _max_difference
from tests.bad_inputs.corpus import BASE_CFG, DETECT_CFG, HEADER, base_weights, detect_weights, jpeg


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity (what every non-Python parser does)."""
    def refuse(word: str):
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def poisoned(data: bytes, value: float = math.nan, count: int = 8) -> bytes:
    """`data` with the first `count` floats after the header set to `value`."""
    body = bytearray(data)
    body[HEADER:HEADER + 4 * count] = np.full(count, value, np.float32).tobytes()
    return bytes(body)


@pytest.fixture
def nan_model(tmp_path) -> tuple[str, str]:
    cfg, weights = tmp_path / "model.cfg", tmp_path / "nan.weights"
    cfg.write_text(BASE_CFG)
    weights.write_bytes(poisoned(base_weights()))
    return str(cfg), str(weights)


def test_max_difference_is_nan_when_an_output_is_nan():
    ours = [torch.tensor([1.0, float("nan")])]
    assert math.isnan(_max_difference(ours, [np.array([1.0, float("nan")])]))
    assert math.isnan(_max_difference([torch.tensor([1.0, 2.0])], [np.array([1.0, np.inf])]))
    assert _max_difference([torch.tensor([1.0, 2.0])], [np.array([1.0, 2.5])]) == 0.5


def test_convert_of_nan_weights_says_the_outputs_are_nan(nan_model, tmp_path, capsys):
    main(["convert", *nan_model, "-o", str(tmp_path / "m.pt")])
    out = capsys.readouterr().out
    assert "NaN or Inf" in out
    assert "max difference 0" not in out


def test_detect_on_nan_weights_says_so(tmp_path, capsys):
    cfg, weights, image = tmp_path / "d.cfg", tmp_path / "d.weights", tmp_path / "p.jpg"
    cfg.write_text(DETECT_CFG)
    weights.write_bytes(poisoned(detect_weights(), count=64))
    image.write_bytes(jpeg())
    main(["detect", str(cfg), str(weights), str(image)])
    err = capsys.readouterr().err
    assert "NaN or Inf" in err and "head output values" in err


def test_diff_json_with_nan_and_inf_is_valid_json(tmp_path, capsys):
    cfg, a, b = tmp_path / "m.cfg", tmp_path / "a.weights", tmp_path / "b.weights"
    cfg.write_text(BASE_CFG)
    a.write_bytes(base_weights())
    b.write_bytes(poisoned(poisoned(base_weights(), math.inf, 4), math.nan, 2))
    main(["diff", str(cfg), str(a), str(b), "--json"])
    payload = strict_json(capsys.readouterr().out)
    flagged = [t for t in payload["tensors"] if json_safe.NON_FINITE_KEY in t]
    assert flagged and all(None in t.values() for t in flagged)


def test_verify_json_of_nan_weights_is_valid_json(nan_model, capsys):
    pytest.importorskip("cv2")
    main(["verify", *nan_model, "--json"])
    captured = capsys.readouterr()
    assert captured.out.strip(), captured.err
    strict_json(captured.out)


def test_finite_json_replaces_nan_and_inf_with_null_and_names_them():
    value = {"a": math.nan, "b": [1.0, math.inf], "c": {"d": -math.inf}, "e": 2.0}
    assert json_safe.finite_json(value) == {
        "a": None, "b": [1.0, None], "c": {"d": None, "non_finite": {"d": "-inf"}},
        "e": 2.0, "non_finite": {"a": "nan"}}
    strict_json(json_safe.dumps(value))
