"""Every bad input through the command line: one clear line naming file, line and layer,
exit 1 (problems, report printed) or 2 (unusable input), no traceback, within a time
bound, nothing written, and the input files never opened for writing."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from darknet_inspector.core.cli import main
from tests.bad_inputs.audit import recording
from tests.bad_inputs.corpus import CASES, EXIT_PROBLEMS, EXIT_UNUSABLE, Case

TIME_BOUND_S = 60.0
"""Generous for a loaded 2-core machine; every case takes well under a second alone
except the generated 17 MB cfg and 24 MB weights."""
PREFIX = "darknet-inspector: "


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def the_message(case: Case, code: int, out: str, err: str) -> str:
    """The one line the user reads: stderr's only line for unusable input, else the
    report line that carries the case's first expected words."""
    if code == EXIT_UNUSABLE:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(PREFIX)
        return lines[0]
    found = [line for line in (out + err).splitlines() if case.says[0] in line]
    assert found, f"no line says {case.says[0]!r}:\n{out}\n{err}"
    return found[0]


def check_names_file_line_layer(case: Case, code: int, message: str, report: str) -> None:
    """The message says what the case expects and names its line and layer; the file is
    named in the message itself (unusable input) or heads the printed report."""
    for words in case.says:
        assert words in message, message
    if case.file is not None:
        assert case.file in (message if code == EXIT_UNUSABLE else report.splitlines()[0])
    if case.line is not None:
        if code == EXIT_UNUSABLE:
            assert f"{case.file}:{case.line}:" in message
        else:
            assert f"line {case.line}" in message
    if case.layer is not None:
        assert f"layer {case.layer}" in message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_ends_in_one_clear_line_with_its_exit_code(case: Case, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    argv = case.make(folder)
    capsys.readouterr()
    before = files_in(folder)
    inputs = {str(p.resolve()) for p in folder.rglob("*")}
    started = time.perf_counter()
    with recording() as opened, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    elapsed = time.perf_counter() - started
    assert [str(w.message) for w in caught] == []  # a warning would print lines of its own
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.code, f"exit {code}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    check_names_file_line_layer(case, code, the_message(case, code, out, err), out or err)
    assert elapsed < TIME_BOUND_S
    assert files_in(folder) == before  # nothing written, no temporary file left behind
    assert not [o for o in opened if o.path in inputs and o.writes]


def test_the_corpus_has_at_least_forty_cases_with_unique_names():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert {case.code for case in CASES} == {0, 1, 2}


INSPECT_PROBLEMS = [case for case in CASES if case.code == EXIT_PROBLEMS and case.layer
                    is not None and case.id.startswith(("cfg-", "weights-"))
                    and "convert" not in case.id]


@pytest.mark.parametrize("case", INSPECT_PROBLEMS, ids=lambda case: case.id)
def test_json_report_names_the_same_layer_and_line(case: Case, tmp_path, capsys):
    argv = case.make(tmp_path)
    assert argv[0] == "inspect"
    capsys.readouterr()
    assert main([*argv, "--json"]) == EXIT_PROBLEMS
    report = json.loads(capsys.readouterr().out)
    problem = next(p for p in report["problems"] if case.says[0] in p["message"])
    assert problem["layer"] == case.layer
    assert problem["line"] == case.line


def test_a_malicious_pt_is_refused_without_running_its_code(tmp_path, capsys):
    case = next(c for c in CASES if c.id == "pt-malicious-pickle")
    argv = case.make(tmp_path)
    assert main(argv) == EXIT_UNUSABLE
    assert "not a loadable PyTorch file" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out.weights").exists()
