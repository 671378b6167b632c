"""The verify job: progress stage by stage with a fraction of the whole job, and a stop at
any record when the generator is closed (the app's Cancel)."""

from __future__ import annotations

import pytest

from darknet_inspector.core import verify as core_verify
from darknet_inspector.core.demo import demo_files
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.verify import (
    DONE,
    INPUT,
    MODEL,
    STAGE_COST,
    StagePlan,
    VerifyProgress,
    VerifyRequest,
    verify,
)
from darknet_inspector.core.network import load_network
from darknet_inspector.core.verify import (
    OPENCV_COMPARE,
    OPENCV_FORWARD,
    OPENCV_LOAD,
    OURS,
    STAGE_TEXT,
)

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def demo_request() -> VerifyRequest:
    files = demo_files()
    if not files.weights.is_file():
        pytest.skip("the bundled demo model is not installed")
    return VerifyRequest(load_network(str(files.cfg)), str(files.weights), str(files.image))


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    """The stages of OpenCV's reference only, also on a machine with a GPU."""
    from darknet_inspector.core import torch_engine

    monkeypatch.setattr(torch_engine, "cuda_unavailable_reason", lambda: "no GPU in this test")


def records_of(request: VerifyRequest) -> tuple[list[VerifyProgress], object]:
    records: list[VerifyProgress] = []
    report = run_job(verify(request), records.append)
    return records, report


def test_verify_yields_rising_fractions_stage_by_stage_ending_at_one(demo_request):
    records, report = records_of(demo_request)
    layers = len(demo_request.network.layers)
    fractions = [r.fraction for r in records]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(set(fractions)) > layers  # it moves within stages, not only between them
    stages = list(dict.fromkeys(r.stage for r in records))
    assert stages == [MODEL, INPUT, OPENCV_LOAD, OPENCV_FORWARD, OURS, OPENCV_COMPARE, DONE]
    compared = [r for r in records if r.stage == OPENCV_COMPARE]
    assert len(compared) == layers + 1  # before the first layer, then after each
    assert compared[-1].text == f"{STAGE_TEXT[OPENCV_COMPARE]} ({layers} of {layers} layers)"
    assert report.comparisons[0].available and len(report.comparisons[0].layers) == layers


def test_each_stage_starts_at_its_share_of_the_whole(demo_request):
    records, _ = records_of(demo_request)
    first = {r.stage: r.fraction for r in reversed(records)}
    planned = [MODEL, INPUT, OPENCV_LOAD, OPENCV_FORWARD, OURS, OPENCV_COMPARE]
    total = sum(STAGE_COST[s] for s in planned)
    assert first[OURS] == pytest.approx(sum(STAGE_COST[s] for s in planned[:4]) / total)
    assert first[OPENCV_COMPARE] == pytest.approx(1 - STAGE_COST[OPENCV_COMPARE] / total)


def test_closing_the_job_before_our_forward_pass_runs_nothing_more(demo_request,
                                                                   monkeypatch):
    forwards: list[int] = []
    real = core_verify.all_outputs_steps

    def counted(*args, **kwargs):
        forwards.append(1)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(core_verify, "all_outputs_steps", counted)
    job = verify(demo_request)
    seen = []
    for record in job:
        seen.append(record.stage)
        if record.stage == OPENCV_FORWARD:
            break
    job.close()
    with pytest.raises(StopIteration):
        next(job)
    assert seen[-1] == OPENCV_FORWARD and forwards == []


def test_our_forward_pass_reports_each_layer_and_a_close_stops_it_between_two(
        demo_request):
    job = verify(demo_request)
    layers = len(demo_request.network.layers)
    fractions = []
    for record in job:
        if record.stage == OURS:
            fractions.append(record.fraction)
            if record.text.startswith(f"{STAGE_TEXT[OURS]} (3 of {layers} layers)"):
                break
    job.close()
    assert len(fractions) == 4 and fractions == sorted(fractions)
    assert fractions[0] < fractions[-1]


def test_closing_the_job_mid_comparison_stops_between_two_layers(demo_request, monkeypatch):
    measured: list[int] = []
    real = core_verify.difference
    monkeypatch.setattr(core_verify, "difference",
                        lambda *args, **kw: measured.append(1) or real(*args, **kw))
    job = verify(demo_request)
    compared = 0
    for record in job:
        compared += record.stage == OPENCV_COMPARE
        if compared == 6:  # before the first layer, then after layers 0..4
            break
    job.close()
    with pytest.raises(StopIteration):
        next(job)
    assert len(measured) == 5


def test_a_reference_that_cannot_run_is_jumped_over_and_the_job_still_ends_at_one(
        demo_request, monkeypatch):
    from darknet_inspector.core import opencv_dnn

    monkeypatch.setattr(opencv_dnn, "opencv_unavailable_reason", lambda: "no OpenCV here")
    records, report = records_of(demo_request)
    assert [r.stage for r in records if r.stage != MODEL] == [INPUT, DONE]
    assert records[-1].fraction == 1.0
    assert not report.comparisons[0].available


def test_a_stage_skipped_midway_never_moves_the_fraction_back():
    plan = StagePlan([MODEL, INPUT, OPENCV_LOAD, OPENCV_FORWARD, OURS, OPENCV_COMPARE])
    later = plan.progress(OPENCV_COMPARE, 3, 10).fraction
    assert plan.progress(OURS).fraction == later  # out of order: held, not lowered
    assert plan.progress(DONE).fraction == 1.0
