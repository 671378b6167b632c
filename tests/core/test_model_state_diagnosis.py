"""The document's state holds the diagnosis: asked for only when cfg and weights
disagree, it rewords the problems as `inspect` does, names the divergent layer and the
cfg fix to save, and is forgotten with the weights."""

from __future__ import annotations

from darknet_inspector.core.demo import demo_files, make_broken_demo
from darknet_inspector.core.jobs import run_job
from darknet_inspector.core.jobs.diagnose import diagnose_weights
from darknet_inspector.core.jobs.stream import StreamStart, StreamUpdate, stream_weights
from darknet_inspector.core.model_state import ModelState
from darknet_inspector.core.network import load_network


def streamed(cfg, weights) -> ModelState:
    state = ModelState()
    state.set_network(str(cfg), load_network(cfg))
    state.begin_stream(str(weights))

    def take(item):
        if isinstance(item, StreamStart):
            state.stream_sized(item)
        elif isinstance(item, StreamUpdate):
            state.apply(item)

    assert state.network is not None
    state.finish_stream(run_job(stream_weights(state.network, str(weights)), take))
    return state


def test_a_matching_pair_needs_no_diagnosis():
    files = demo_files()
    state = streamed(files.cfg, files.weights)
    assert not state.needs_diagnosis() and state.top_finding() is None


def test_findings_name_the_divergent_layer_and_reword_the_problems(tmp_path):
    cfg, weights = make_broken_demo(tmp_path)
    state = streamed(cfg, weights)
    assert state.needs_diagnosis() and state.divergent_layer() is None
    before = [d.message for d in state.errors()]
    assert any("filters=" in m for m in before)  # the cfg-only advice: change filters
    assert state.network is not None
    state.set_findings(run_job(diagnose_weights(state.network, str(weights))))
    assert state.divergent_layer() == 30 and state.top_finding().cause == "classes"
    after = [d.message for d in state.errors()]
    assert any("set classes=4 on line 219" in m for m in after)
    assert not any("set filters" in m for m in after)  # what the weights contradict is gone
    assert state.fix_to_save() is state.findings[0]
    state.begin_stream(str(weights))
    assert state.findings is None and state.divergent_layer() is None


def test_the_fix_to_save_prefers_a_verified_one():
    from darknet_inspector.core.diagnosis import Finding

    state = ModelState()
    guess = Finding("classes", 3, 9, "m", "f", False, fixed_cfg="a")
    sure = Finding("cfg_diverges", 2, 7, "m", "f", True, fixed_cfg="b")
    state.set_findings([Finding("truncated", 1, 5, "m", None, False), guess, sure])
    assert state.fix_to_save() is sure
    state.set_findings([guess])
    assert state.fix_to_save() is guess
