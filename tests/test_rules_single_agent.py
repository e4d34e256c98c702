"""Rules v7 single-agent detectors on real runs from ../shared (positive and near miss each): a write the run's
own instructions gate on the user's explicit confirmation, made without it (FM-1.1); a run stopped at its step
limit (FM-1.5) and a submitted one that was not; a change submitted with nothing run or read after it (FM-3.2);
a handoff that is no write; a lone agent's words between calls that are no claim (FM-2.5)."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import FIXTURES, require_fixtures
from rules_traces import assert_quotes_verify, devset_traces, swe_run

import mastlens
from mastlens.judges.rules import judge_trace
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.commands import changes
from mastlens.judges.rules.gate import confirmation_gate, unconfirmed_writes
from mastlens.judges.rules.termination import submission
from mastlens.judges.rules.tool_errors import autonomous_single_agent
from mastlens.judges.rules.view import TraceView
from mastlens.trace import StepKind, Trace


@pytest.fixture(autouse=True)
def _fixtures():
    require_fixtures()


@cache
def _traces(source: str) -> dict[str, Trace]:
    return {t.id: t for t in mastlens.load_traces(str(FIXTURES / source))}


def test_write_without_the_explicit_yes_the_policy_demands():
    """tau-10-0 (reward 0): the policy asks for the action details and an explicit yes before any booking; the
    user's last word before ``book_reservation`` gives payment details, and the agent books."""
    trace = _traces("tau_bench")["tau-10-0"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    gate = confirmation_gate(view)
    assert gate is not None and "explicit user confirmation" in gate[1] and gate[0].kind is StepKind.SYSTEM
    found, n_writes = unconfirmed_writes(view)
    assert n_writes == 1 and len(found) == 1
    call, user = found[0]
    assert call.tool == "book_reservation" and user is not None and user.index < call.step.index
    assert "yes" not in user.content.lower()
    verdict = judge_trace(trace).modes["FM-1.1"]
    assert verdict.status.value == "present"
    assert {gate[0].index, user.index, call.step.index} <= {e.step for e in verdict.evidence}
    assert_quotes_verify(trace, "FM-1.1")


def test_writes_each_after_the_users_yes_are_no_violation():
    """tau-11-0 (reward 1): both bookings follow a user message saying yes, proceed: assessed and absent."""
    trace = _traces("tau_bench")["tau-11-0"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    found, n_writes = unconfirmed_writes(view)
    assert n_writes == 2 and found == []
    assert judge_trace(trace).modes["FM-1.1"].status.value == "absent"


def test_a_run_that_changes_nothing_or_carries_no_gate_is_not_assessed():
    """tau-12-0 makes no write (the gate has nothing to hold); Who&When teams carry no confirmation gate."""
    assert judge_trace(_traces("tau_bench")["tau-12-0"]).modes["FM-1.1"].status.value == "not_assessed"
    for trace in _traces("who_and_when").values():
        assert judge_trace(trace).modes["FM-1.1"].status.value == "not_assessed", trace.id


def test_tau2_write_after_the_user_gave_details_not_a_yes():
    """tau2 airline 18 (reward 0): the user names the payment method for the refunds and the agent makes all
    five flight changes at once, with no yes after listing them, which the policy asks for."""
    trace = devset_traces("tau2")["tau2-airline-18-0-680ebcd5"]
    verdict = judge_trace(trace).modes["FM-1.1"]
    assert verdict.status.value == "present" and "5 of 5" in verdict.reason
    assert trace.steps[verdict.evidence[0].step].kind is StepKind.SYSTEM
    assert_quotes_verify(trace, "FM-1.1")


def test_tau2_run_stopped_at_its_step_limit():
    """tau2 airline 6 (termination max_steps): the run ends on the simulator's max_steps event, which is the
    evidence of FM-1.5; a run the user ended (user_stop) is assessed and absent."""
    runs = devset_traces("tau2")
    stopped = runs["tau2-airline-6-0-4d9c488b"]
    assert stopped.metadata["termination_reason"] == "max_steps"
    verdict = judge_trace(stopped).modes["FM-1.5"]
    assert verdict.status.value == "present" and "limit" in verdict.reason
    end = stopped.steps[-1]
    assert end.kind is StepKind.EVENT and end.index in {e.step for e in verdict.evidence}
    ended = runs["tau2-airline-11-0-91762b0f"]
    assert ended.metadata["termination_reason"] == "user_stop"
    assert judge_trace(ended).modes["FM-1.5"].status.value == "absent"


def test_a_handoff_to_a_human_is_no_write_to_check():
    """tau2 airline 11: the agent transfers to a human; ``transfer_to_human_agents`` changes no record, so FM-3.2
    finds no unchecked write (v6 called it one, on successful and failed runs alike)."""
    trace = devset_traces("tau2")["tau2-airline-11-0-91762b0f"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    handoffs = [c for c in view.calls if c.tool == "transfer_to_human_agents"]
    assert handoffs and all(changes(c) == [] for c in handoffs)
    assert judge_trace(trace).modes["FM-3.2"].status.value != "present"


def test_change_submitted_with_nothing_run_or_read_after_it():
    """SWE-bench django-11400 (unresolved): the last edit of filters.py is submitted with no test, script or
    read of the file after it; the evidence is the edit and the submission."""
    trace = swe_run("django__django-11400")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    call = submission(view)
    assert call is not None and call.result.metadata.get("submission") is True
    verdict = judge_trace(trace).modes["FM-3.2"]
    assert verdict.status.value == "present" and "filters.py" in verdict.reason
    steps = [e.step for e in verdict.evidence]
    assert steps[-1] == call.step.index and trace.steps[steps[0]].kind is StepKind.TOOL_CALL
    assert "filters.py" in trace.steps[steps[0]].content
    assert_quotes_verify(trace, "FM-3.2")


def test_change_run_again_before_the_submission_is_checked():
    """SWE-bench django-10097 (resolved): after the last edit a script runs before the submission (the scratch
    script's removal is no change): FM-3.2 absent; the submitted run ended by design (FM-1.5 absent)."""
    trace = swe_run("django__django-10097")
    verdict = judge_trace(trace)
    assert verdict.modes["FM-3.2"].status.value == "absent" and "ran or read" in verdict.modes["FM-3.2"].reason
    assert verdict.modes["FM-1.5"].status.value == "absent"


def test_a_lone_agents_words_between_calls_are_no_claim():
    """SWE-bench django-11555 (resolved): a reproduction crashes, and between later calls the agent writes "It
    works!" about another query; v6 read that as a success claim over the crash (FM-2.5/FM-3.3). A lone agent's
    words between its calls are work in progress: neither mode is present."""
    trace = swe_run("django__django-11555")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    assert autonomous_single_agent(view) and any(c.failed for c in view.calls)
    verdict = judge_trace(trace)
    assert verdict.modes["FM-2.5"].status.value != "present"
    assert verdict.modes["FM-3.3"].status.value != "present"


def _claude_code_session(tmp_path, check: str | None):
    """A Claude Code session shaped like the fixture's lines: an Edit, then (optionally) a Bash call running
    ``check``, then the closing message."""
    import json

    base = {"isSidechain": False, "userType": "external", "cwd": "/w", "sessionId": "cc-check", "version": "2.0.76"}
    lines = [{**base, "uuid": "u1", "type": "user", "timestamp": "2026-01-31T11:00:00.000Z",
              "message": {"role": "user", "content": "Fix the off-by-one in pager.py"}}]

    def call(n: int, name: str, args: dict, result: str) -> None:
        lines.append({**base, "uuid": f"a{n}", "type": "assistant", "timestamp": f"2026-01-31T11:00:0{n}.000Z",
                      "message": {"role": "assistant", "model": "claude-opus-4-5-20251101", "content": [
                          {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": args}]}})
        lines.append({**base, "uuid": f"r{n}", "type": "user", "timestamp": f"2026-01-31T11:00:0{n}.500Z",
                      "message": {"role": "user", "content": [
                          {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": result}]}})

    call(1, "Edit", {"file_path": "/w/pager.py", "old_string": "n - 1", "new_string": "n"}, "The file was edited.")
    if check:
        call(2, "Bash", {"command": check}, "3 passed in 0.12s")
    lines.append({**base, "uuid": "end", "type": "assistant", "timestamp": "2026-01-31T11:00:09.000Z",
                  "message": {"role": "assistant", "model": "claude-opus-4-5-20251101",
                              "content": [{"type": "text", "text": "Fixed the off-by-one in pager.py."}]}})
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    [trace] = mastlens.load_traces(path)
    return trace


def test_a_claude_code_bash_check_after_the_edit_counts(tmp_path):
    """Claude Code keeps a Bash call's command only in its arguments: a test run after the last edit is a check
    (FM-3.2 absent), and without it the unchecked change is FM-3.2."""
    checked = judge_trace(_claude_code_session(tmp_path, "python -m pytest -q tests/test_pager.py"))
    unchecked = judge_trace(_claude_code_session(tmp_path, None))
    assert unchecked.modes["FM-3.2"].status.value == "present"
    assert checked.modes["FM-3.2"].status.value != "present"
