"""Localization on constructed attributions (the +-k boundaries), and through the store and `agree`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mastlens.analysis import compute_agreement
from mastlens.analysis.localization import (
    Attribution, AttributionPair, agent_key, attribution_of, localization, naive_attribution, step_hits,
)
from mastlens.cli.app import app
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import (
    Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Source, Step, StepKind, Trace, Verdict,
    label_annotation,
)

MODE_IDS = load_taxonomy().ids


def _pair(ref_step, pred_step, ref_agent="A", pred_agent="A", **onsets):
    return AttributionPair("t", Attribution(ref_step, ref_agent, onsets.get("ref", {})),
                           Attribution(pred_step, pred_agent, onsets.get("pred", {})))


def test_step_hits_boundaries():
    ref = [10] * 7
    pred = [10, 11, 9, 12, 13, 14, None]
    assert step_hits(ref, pred, 0).tolist() == [True, False, False, False, False, False, False]
    assert step_hits(ref, pred, 1).tolist() == [True, True, True, False, False, False, False]
    assert step_hits(ref, pred, 3).tolist() == [True, True, True, True, True, False, False]


def test_localization_hand_computed():
    pairs = [_pair(10, 10), _pair(10, 11, pred_agent="b"), _pair(10, 13), _pair(10, 14),
             _pair(10, None, pred_agent=None),
             _pair(None, 4, ref_agent="Orchestrator", pred_agent="orchestrator (thought)")]
    loc = localization(pairs, rounds=300)
    assert (loc.n, loc.n_step, loc.n_agent) == (6, 5, 6)
    assert loc.step_exact == pytest.approx(1 / 5)
    assert loc.step_within_1 == pytest.approx(2 / 5)
    assert loc.step_within_3 == pytest.approx(3 / 5)
    assert loc.agent == pytest.approx(4 / 6)  # misses: "b" and a prediction naming no agent
    assert loc.no_step == pytest.approx(1 / 6)
    assert loc.step_within_3_ci[0] <= loc.step_within_3 <= loc.step_within_3_ci[1]
    assert localization(pairs, rounds=300).step_exact_ci == loc.step_exact_ci  # seeded


def test_mode_first_step_accuracy_where_both_mark_it():
    pairs = [_pair(1, 1, ref={"FM-1.3": 5, "FM-2.1": 2}, pred={"FM-1.3": 6}),
             _pair(1, 1, ref={"FM-1.3": 5}, pred={"FM-1.3": 9})]
    [mode] = localization(pairs).modes
    assert (mode.id, mode.n, mode.exact, mode.within_1, mode.within_3) == ("FM-1.3", 2, 0.0, 0.5, 0.5)


def test_agent_key_ignores_case_space_and_a_trailing_note():
    assert agent_key(" Orchestrator (-> WebSurfer) ") == agent_key("orchestrator") == "orchestrator"
    assert agent_key(None) is None and agent_key("") is None


def _trace(tid="t1"):
    steps = [Step(index=0, kind=StepKind.SYSTEM, content="sys"), Step(index=1, kind=StepKind.USER, content="q"),
             Step(index=2, kind=StepKind.ASSISTANT, agent="planner", content="plan"),
             Step(index=3, kind=StepKind.ASSISTANT, agent="coder", content="code"),
             Step(index=4, kind=StepKind.ASSISTANT, agent="planner", content="done")]
    return Trace(id=tid, source=Source(format="native"), steps=steps)


def test_attribution_falls_back_to_the_earliest_onset_and_its_agent():
    trace = _trace()
    modes = {m: ModeVerdict(id=m, status=ModeStatus.ABSENT) for m in MODE_IDS}
    modes["FM-1.3"] = ModeVerdict(id="FM-1.3", status=ModeStatus.PRESENT, evidence=[Evidence(step=4, quote="done")])
    modes["FM-3.2"] = ModeVerdict(id="FM-3.2", status=ModeStatus.PRESENT, evidence=[Evidence(step=3, quote="code")])
    got = attribution_of(Verdict(modes=modes), trace)
    assert (got.step, got.agent, got.onsets) == (3, "coder", {"FM-1.3": 4, "FM-3.2": 3})
    named = attribution_of(Verdict(modes=modes, decisive_step=2, decisive_agent="planner"), trace)
    assert (named.step, named.agent) == (2, "planner")
    assert naive_attribution(trace) == Attribution(2, "planner")


def _judged(trace_id, step, agent):
    modes = {m: ModeVerdict(id=m, status=ModeStatus.ABSENT) for m in MODE_IDS}
    return Annotation(trace_id=trace_id, set="judge", status=AnnotationStatus.OK,
                      verdict=Verdict(modes=modes, decisive_step=step, decisive_agent=agent))


def test_agree_reports_localization_through_the_store_and_cli(store, db_path):
    for i in range(4):
        store.add_trace(_trace(f"t{i}"))
    store.ensure_set("ref", judge="labels")
    store.ensure_set("judge", judge="rules")
    store.save_annotations([label_annotation(f"t{i}", "ref", {}, MODE_IDS, decisive_step=3, decisive_agent="coder",
                                             task_completed=False) for i in range(4)])
    store.save_annotations([_judged("t0", 3, "coder"), _judged("t1", 4, "planner"), _judged("t2", 0, None),
                            _judged("t3", None, None)])
    result = compute_agreement(store, "ref", "judge", rounds=200)
    loc = result.localization
    assert (loc.n, loc.step_exact, loc.step_within_1, loc.step_within_3) == (4, 0.25, 0.5, 0.75)
    assert loc.agent == 0.25 and loc.no_step == 0.25
    store.close()
    out = CliRunner().invoke(app, ["agree", "ref", "judge", "--db", str(db_path), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["localization"]["step_within_3"] == 0.75
    table = CliRunner().invoke(app, ["agree", "ref", "judge", "--db", str(db_path)], env={"COLUMNS": "200"})
    assert "decisive step within ±3" in table.output and "75.0%" in table.output


def test_no_localization_when_the_reference_names_no_step(store):
    store.add_trace(_trace("t0"))
    store.ensure_set("ref", judge="labels")
    store.ensure_set("judge", judge="rules")
    store.save_annotations([label_annotation("t0", "ref", {"FM-1.3": True}, MODE_IDS)])
    store.save_annotations([_judged("t0", 3, "coder")])
    assert compute_agreement(store, "ref", "judge").localization is None
