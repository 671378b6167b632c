"""The convert job: the one convert-and-check path the CLI's `convert` and the app run."""

from __future__ import annotations

import pytest

from darknet_inspector.core.cli import main
from darknet_inspector.core.jobs import convert as convert_job
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.convert import ConvertOptions, ConvertProgress, convert_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.read_ahead import ReadAhead
from darknet_inspector.core.report import ModelHasErrors
from tests.core.test_report import CFG
from tests.helpers import write_random_weights


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    weights = tmp_path / "m.weights"
    write_random_weights(load_network(str(cfg)), weights, 1)
    return cfg, weights


def test_convert_reports_progress_per_layer_then_writes_reloads_and_compares(files, tmp_path):
    cfg, weights = files
    steps: list[ConvertProgress] = []
    output = tmp_path / "m.pt"
    result = run_job(convert_model(load_network(str(cfg)), str(weights),
                                   ConvertOptions(str(output), fuse=True)), steps.append)
    assert [s.step for s in steps[:2]] == ["reading layer 0", "reading layer 1"]
    assert steps[-1].step.startswith("writing m.pt") and steps[-1].done == steps[-1].total
    assert output.is_file() and result.fused and result.layers == 2
    assert result.check.format == "pt" and result.max_diff is not None
    assert result.max_diff < 1e-4
    assert "max |difference|" in result.summary() and "Batch norm folded" in result.summary()


def test_convert_refuses_a_model_whose_weights_do_not_match(files, tmp_path):
    cfg, weights = files
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(ModelHasErrors):
        run_job(convert_model(load_network(str(cfg)), str(weights),
                              ConvertOptions(str(tmp_path / "m.pt"))))
    assert not (tmp_path / "m.pt").exists()


def test_the_cli_convert_runs_the_convert_job(files, tmp_path, monkeypatch, capsys):
    cfg, weights = files
    calls = []

    def recorded(network, path, options, ahead=None):
        calls.append((options, ahead))
        return (yield from convert_model(network, path, options, ahead))

    monkeypatch.setattr(convert_job, "convert_model", recorded)
    output = tmp_path / "m.pt"
    assert main(["convert", str(cfg), str(weights), "-o", str(output), "--fuse"]) == 0
    assert [(o.output, o.fuse, o.format) for o, _ in calls] == [(str(output), True, "pt")]
    # the weights were already being read (on a thread, while torch imported: issue 15)
    assert [a.path for _, a in calls] == [str(weights)]
    assert "BN folded" in capsys.readouterr().out


def test_a_read_under_way_is_taken_as_it_is(files, tmp_path):
    cfg, weights = files
    network = load_network(str(cfg))
    steps: list[ConvertProgress] = []
    with ReadAhead(network, weights) as ahead:
        result = run_job(convert_model(network, str(weights),
                                       ConvertOptions(str(tmp_path / "m.pt")), ahead),
                         steps.append)
    assert [s.step for s in steps[:2]] == ["reading the weights", "read the weights"]
    assert result.check.tensors_equal and result.max_diff == 0
