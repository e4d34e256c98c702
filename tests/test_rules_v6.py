"""Rules v6 detectors on real runs from ../shared: a run that starts over (FM-2.1: the harness starting a new
session mid-run, a team's opening plan sent again) and a team stuck on an auto-reply prompt to the end
(FM-1.5). Each with a positive and a near miss."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import FIXTURES, require_fixtures
from rules_traces import assert_quotes_verify

import mastlens
from mastlens.judges.rules import RulesConfig, judge_trace
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.reset import repeated_opening, session_restarts, shingles, similarity
from mastlens.judges.rules.termination import nudge_loop
from mastlens.judges.rules.view import TraceView
from mastlens.trace import StepKind, Trace

MAD = "mast_data/MAD_human_labelled_dataset.json"
HYPER_RESTARTED = "Round 1/HyperAgent/SWE-Bench-Lite/1"
HYPER_ONE_SESSION = "Round 2/HyperAgent/SWE-Bench-Lite/6"
AG2_NUDGED = "Round 1/AG2/GSM-Plus/2"
AG2_NUDGED_ONCE = "Round 3/AG2/GSM-Plus/12"


@pytest.fixture(autouse=True)
def _fixtures():
    require_fixtures()


@cache
def _mad() -> dict[str, Trace]:
    return {t.id: t for t in mastlens.load_traces(str(FIXTURES / MAD))}


def _view(trace: Trace, config: RulesConfig = DEFAULT_CONFIG) -> TraceView:
    return TraceView.build(trace, config)



def test_harness_session_restarted_mid_run_is_a_reset():
    """HyperAgent run 1: the log initializes a new HyperAgent instance four times while the team is at work,
    and each time the Planner begins again from its first thought."""
    trace = _mad()[HYPER_RESTARTED]
    restarts = session_restarts(_view(trace))
    assert len(restarts) == 4
    for event in restarts:
        assert event.kind is StepKind.EVENT and "Initialized HyperAgent instance" in event.content
        position = trace.steps.index(event)
        assert any(s.kind is StepKind.ASSISTANT for s in trace.steps[:position])
        assert any(s.kind is StepKind.ASSISTANT for s in trace.steps[position + 1:])
    # the trailing initializations after the last turn start no work: they are not counted
    last_work = max(i for i, s in enumerate(trace.steps) if s.kind is StepKind.ASSISTANT)
    assert all(trace.steps.index(e) < last_work for e in restarts)
    verdict = judge_trace(trace).modes["FM-2.1"]
    assert verdict.status.value == "present" and "new session" in verdict.reason
    assert_quotes_verify(trace, "FM-2.1")


def test_opening_plan_sent_again_word_for_word():
    """After a restart the Planner's turn is a copy of its opening turn (similarity 1.0), not a new plan."""
    trace = _mad()[HYPER_RESTARTED]
    found = repeated_opening(_view(trace), DEFAULT_CONFIG)
    assert found is not None
    opening, copies = found
    assert opening.agent == "Planner" and copies and all(c.agent == "Planner" for c in copies)
    assert all(similarity(shingles(opening.content), shingles(c.content)) >= DEFAULT_CONFIG.reset_min_similarity
               for c in copies)


def test_one_session_and_no_repeated_opening_is_no_reset():
    """Near miss: HyperAgent run 6 initializes its one session before the first turn and never starts over."""
    trace = _mad()[HYPER_ONE_SESSION]
    view = _view(trace)
    assert any(s.metadata.get("event") == "session_start" for s in trace.steps)
    assert session_restarts(view) == [] and repeated_opening(view, DEFAULT_CONFIG) is None
    assert judge_trace(trace).modes["FM-2.1"].status.value == "absent"


def test_phase_chats_that_embed_the_task_are_no_reset():
    """Near miss: ChatDev opens every phase with a '[Start Chat]' prompt holding the task; each carries its own
    phase prompt and the progress so far, so none is near enough to the opening turn."""
    trace = _mad()["Round 1/ChatDev/ProgramDev/3"]
    view = _view(trace)
    starts = [s for s in view.agent_steps if "[Start Chat]" in s.content[:200]]
    assert len(starts) >= 5
    assert repeated_opening(view, DEFAULT_CONFIG) is None
    assert judge_trace(trace).modes["FM-2.1"].status.value == "absent"


def test_replan_with_updated_facts_is_no_reset():
    """Near miss from the Who&When dev set: a Magentic-One orchestrator, stalled, re-plans ("New plan: We are
    working to address the following user request ...") with its fact sheet updated: it keeps what it learned."""
    path = FIXTURES.parent / "devsets" / "who_and_when" / "Hand-Crafted" / "13.json"
    if not path.exists():
        pytest.skip(f"dev set file {path} not found")
    trace = next(iter(mastlens.load_traces(str(path))))
    replans = [s for s in trace.steps if s.content.startswith("New plan:")]
    assert replans
    opening = next(s for s in trace.steps if s.content.startswith("Initial plan:"))
    assert similarity(shingles(opening.content), shingles(replans[0].content)) < DEFAULT_CONFIG.reset_min_similarity
    assert judge_trace(trace).modes["FM-2.1"].status.value == "absent"


def test_team_stuck_on_an_auto_reply_to_the_end():
    """AG2 MathChat run 2: the assistant says at once the problem lacks data; the proxy answers every reply
    with the same 'Continue. Please keep solving the problem ...' four times until the run ends."""
    trace = _mad()[AG2_NUDGED]
    nudges = nudge_loop(_view(trace), DEFAULT_CONFIG)
    assert len(nudges) == 4
    assert {s.agent for s in nudges} == {"mathproxyagent"}
    assert len({s.content for s in nudges}) == 1 and nudges[0].content.startswith("Continue.")
    verdict = judge_trace(trace).modes["FM-1.5"]
    assert verdict.status.value == "present" and "same prompt 4 times" in verdict.reason
    assert_quotes_verify(trace, "FM-1.5")
    # the threshold lives in RulesConfig: asking for five repeats leaves this run unflagged
    assert nudge_loop(_view(trace, RulesConfig(nudge_min_repeats=5)), RulesConfig(nudge_min_repeats=5)) == []


def test_one_nudge_then_work_is_no_loop():
    """Near miss: AG2 MathChat run 12 gets the same 'Continue' prompt once, then code runs and the answer comes."""
    trace = _mad()[AG2_NUDGED_ONCE]
    assert sum(s.content.startswith("Continue.") for s in trace.steps) == 1
    assert nudge_loop(_view(trace), DEFAULT_CONFIG) == []
    assert judge_trace(trace).modes["FM-1.5"].status.value == "absent"


def test_reset_thresholds_are_validated():
    with pytest.raises(ValueError):
        RulesConfig(reset_min_similarity=1.5)
    with pytest.raises(ValueError):
        RulesConfig(nudge_min_repeats=1)


def _handover(trace: Trace):
    from mastlens.judges.rules.handover import handover

    return handover(_view(trace))


def test_team_answer_takes_over_an_execution_output_unchecked():
    """AG2 MathChat run 7: the proxy prints the code's output '29.0' and the assistant boxes 29 as the final
    answer at once: the computation produced the answer, nothing checked it."""
    trace = _mad()["Round 2/AG2/GSM-Plus/7"]
    found = _handover(trace)
    assert found is not None and found.result is not None
    assert found.result.content.strip() == "29.0" and found.result.agent == "mathproxyagent"
    assert "\\boxed{29}" in found.answer.content
    verdict = judge_trace(trace).modes["FM-3.2"]
    assert verdict.status.value == "present" and "takes over the result" in verdict.reason
    assert_quotes_verify(trace, "FM-3.2")


def test_orchestrator_final_answer_on_a_surfers_report():
    """Magentic-One (GAIA): the orchestrator writes FINAL ANSWER right after WebSurfer's report, no check."""
    trace = _mad()["Generlazability/GAIA/Magentic/17"]
    found = _handover(trace)
    assert found is not None and found.result is not None and found.result.agent == "WebSurfer"
    assert found.answer.content.count("FINAL ANSWER") == 1
    assert judge_trace(trace).modes["FM-3.2"].status.value == "present"


def test_finishing_call_on_a_teammates_report():
    """AppWorld run 11: the supervisor calls complete_task() on the SimpleNote agent's 'successfully created'
    message without looking at the note: a finishing call is the team's answer."""
    trace = _mad()["Round 3/AppWorld/Test-C/11"]
    found = _handover(trace)
    assert found is not None and found.result is not None
    assert "complete_task()" in found.answer.content and found.result.kind is StepKind.USER
    assert found.result.metadata.get("to") == "Supervisor Agent"
    verdict = judge_trace(trace).modes["FM-3.2"]
    assert verdict.status.value == "present"
    assert_quotes_verify(trace, "FM-3.2")


def test_answer_after_a_canned_prompt_takes_over_nothing():
    """Near miss: AG2 run 2 boxes its answer after the proxy's fourth identical 'Continue' prompt, which hands
    over no result (the answer rests on the assistant's own reasoning)."""
    trace = _mad()[AG2_NUDGED]
    found = _handover(trace)
    assert found is not None and found.result is None and "canned prompt" in found.why
    assert judge_trace(trace).modes["FM-3.2"].status.value == "absent"


def test_giving_up_is_no_answer_to_verify():
    """Near miss: AppWorld run 0 ends on complete_task(status="fail") after saying it cannot retrieve the
    token: no answer was taken over, so this rule has nothing to weigh (the run has no final answer)."""
    trace = _mad()["Round 1/AppWorld/Test-C/0"]
    assert _handover(trace) is None
    assert judge_trace(trace).modes["FM-3.2"].status.value == "not_assessed"
