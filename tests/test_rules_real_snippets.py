"""Rules v4 on real text: every default error shape and every new detector, each with a positive and a
near miss taken from the fixtures and dev sets in ../shared (read at test time, never copied here)."""

from __future__ import annotations

import re

import pytest

import mastlens
from mastlens.judges.rules import DEFAULT_CONFIG, judge_trace
from mastlens.judges.rules.config import DEFAULT_ERROR_PATTERNS
from mastlens.judges.rules.view import TraceView, compiled, result_failed
from mastlens.trace import Step, StepKind, Trace
from conftest import FIXTURES

DEVSETS = FIXTURES.parent / "devsets"
WW_DEV = DEVSETS / "who_and_when"


def _trace(path) -> Trace:
    if not path.exists():
        pytest.skip(f"{path} not available")
    [trace] = [t for t in mastlens.load_traces(str(path))][:1]
    return trace


def _tau(path, trace_id: str) -> Trace:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return next(t for t in mastlens.load_traces(str(path)) if t.id == trace_id)


def _step_with(trace: Trace, text: str, kind: StepKind | None = None) -> Step:
    return next(s for s in trace.steps if text in s.content and (kind is None or s.kind is kind))


def _bare(step: Step) -> Step:
    """The same output as a format that records no exit code or error flag would give it."""
    return step.model_copy(update={"metadata": {}})


NO_CALL = Step(index=0, kind=StepKind.TOOL_CALL, tool="run")


# -- error shapes, each on the real text it was written for -----------------------------------------------
def test_each_default_error_shape_matches_real_failed_output():
    ag84 = _trace(FIXTURES / "who_and_when/Algorithm-Generated/84.json")
    tau = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-13-0")
    mad = next(t for t in mastlens.load_traces(str(FIXTURES / "mast_data")) if t.id == "Round 1/AppWorld/Test-C/0")
    ctf = next(t for t in mastlens.load_traces(str(FIXTURES / "inspect_ai"))
               if t.id == "inspect_evals/luce_intercode_ctf/59/2")
    ag7 = _trace(WW_DEV / "Algorithm-Generated/7.json")
    real = {
        0: _step_with(tau, "Error: ", StepKind.TOOL_RESULT),                    # "Error: not enough seats ..."
        1: _step_with(ag7, "Code output: Traceback (most recent call last)", StepKind.TOOL_RESULT),
        3: _step_with(ctf, "command not found", StepKind.TOOL_RESULT),           # "bash: line 1: whois: ..."
        4: _step_with(ag7, "[Errno 2]", StepKind.TOOL_RESULT),                  # exit 0, the script printed it
        5: _step_with(mad, "Execution failed.", StepKind.TOOL_RESULT),          # AppWorld's code output
    }
    exit_1 = _step_with(ag84, "exitcode: 1 (execution failed)", StepKind.TOOL_RESULT)
    assert re.search(DEFAULT_ERROR_PATTERNS[5], exit_1.content[:300], re.IGNORECASE | re.MULTILINE)
    for i, step in real.items():
        head = step.content[:DEFAULT_CONFIG.error_head_chars]
        assert re.search(DEFAULT_ERROR_PATTERNS[i], head, re.IGNORECASE | re.MULTILINE), (i, head[:80])
        assert result_failed(NO_CALL, _bare(step), DEFAULT_CONFIG), i
    # the adapters give the executors' exit status too: Who&When's and AppWorld's failures carry is_error
    assert real[1].metadata["exit_code"] == 1 and exit_1.metadata["is_error"] is True
    assert real[5].metadata["is_error"] is True
    # exit code 0 with a printed "[Errno 2] No such file or directory" still failed
    assert real[4].metadata["exit_code"] == 0 and result_failed(NO_CALL, real[4], DEFAULT_CONFIG)


def test_real_clean_outputs_match_no_error_shape():
    ag84 = _trace(FIXTURES / "who_and_when/Algorithm-Generated/84.json")
    tau = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-13-0")
    clean = [s for s in ag84.steps + tau.steps if s.kind is StepKind.TOOL_RESULT and not s.metadata.get("is_error")]
    assert len(clean) >= 5
    pattern = compiled(DEFAULT_ERROR_PATTERNS)
    for step in clean:
        assert not pattern.search(step.content[:DEFAULT_CONFIG.error_head_chars]), step.content[:80]
        assert not result_failed(NO_CALL, _bare(step), DEFAULT_CONFIG)
    # a line that only mentions an error ("... Error: unsupported language" inside a report) is no failure head
    assert not result_failed(NO_CALL, Step(index=1, kind=StepKind.TOOL_RESULT,
                                           content="The report lists the Error: rows we filtered out."), DEFAULT_CONFIG)


# -- detectors -------------------------------------------------------------------------------------------
def test_teammate_vouching_without_a_check_and_its_near_miss():
    ag1 = _trace(FIXTURES / "who_and_when/Algorithm-Generated/1.json")
    verdict = judge_trace(ag1).modes["FM-3.2"]
    assert verdict.status.value == "present" and "without a check of the claimer's own" in verdict.reason
    assert any("verified" in e.quote or "confirmed" in e.quote for e in verdict.evidence)
    # near miss: the Validation_Expert ran the corrected code itself, then called it validated
    ag10 = _trace(WW_DEV / "Algorithm-Generated/10.json")
    assert "claimer's own" not in judge_trace(ag10).modes["FM-3.2"].reason


def test_the_teams_own_loop_ledger_and_its_near_miss():
    looping = _trace(WW_DEV / "Hand-Crafted/1.json")
    verdict = judge_trace(looping).modes["FM-1.3"]
    assert verdict.status.value == "present" and "ledger" in verdict.reason
    assert all(e.quote for e in verdict.evidence)
    steady = _trace(FIXTURES / "who_and_when/Hand-Crafted/6.json")  # a ledger that never reports a loop
    assert TraceView.build(steady, DEFAULT_CONFIG).ledgers
    assert judge_trace(steady).modes["FM-1.3"].status.value == "absent"


def test_cut_mid_work_and_its_near_miss():
    cut = _trace(WW_DEV / "Algorithm-Generated/28.json")  # the executor's output is the last word
    verdict = judge_trace(cut).modes["FM-1.5"]
    assert verdict.status.value == "present" and "mid-work" in verdict.reason
    assert verdict.evidence[0].step == cut.steps[-1].index
    finished = _trace(FIXTURES / "who_and_when/Algorithm-Generated/1.json")  # ends on TERMINATE
    assert judge_trace(finished).modes["FM-1.5"].status.value == "absent"


def test_stopping_on_a_crash_and_its_near_miss():
    crashed = _trace(FIXTURES / "who_and_when/Hand-Crafted/33.json")
    verdict = judge_trace(crashed).modes["FM-3.1"]
    assert verdict.status.value == "present" and "crash" in verdict.reason
    assert verdict.evidence and verdict.evidence[0].quote in crashed.steps[verdict.evidence[0].step].content
    ended = _trace(FIXTURES / "who_and_when/Hand-Crafted/6.json")  # the orchestrator's own "No agent selected."
    assert judge_trace(ended).modes["FM-3.1"].status.value != "present"
    [notice] = [s for s in ended.steps if s.metadata.get("event") == "termination_condition"]
    assert notice.kind is StepKind.EVENT and "FINAL ANSWER" in notice.content


def test_rejected_change_retried_blind_and_its_near_miss():
    blind = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-11-0")
    assert "committed again without a look-up" in judge_trace(blind).modes["FM-3.2"].reason
    looked = _tau(DEVSETS / "tau_bench/gpt-4o-airline.dev.json", "tau-3-1")  # a flight search before the retry
    assert "committed again" not in judge_trace(looked).modes["FM-3.2"].reason


def test_tools_offered_but_never_used_and_its_near_miss():
    silent = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-16-0")  # 7 user turns, no call
    assert silent.n_tool_calls == 0
    verdict = judge_trace(silent).modes["FM-3.2"]
    assert verdict.status.value == "present" and "no tool check passed" in verdict.reason
    used = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-12-0")  # looked the user up first
    assert judge_trace(used).modes["FM-3.2"].status.value == "absent"


def test_same_error_retried_and_its_near_miss():
    stuck = _tau(DEVSETS / "tau_bench/gpt-4o-airline.dev.json", "tau-8-1")  # book_reservation, think, again
    verdict = judge_trace(stuck).modes["FM-1.3"]
    assert verdict.status.value == "present" and "same error" in verdict.reason
    # near miss: the generated ITBench run fails twice, with two different errors
    moved_on = _tau(FIXTURES / "tau_bench/gpt-4o-airline.subset.json", "tau-13-0")  # new user words between
    assert "same error" not in judge_trace(moved_on).modes["FM-1.3"].reason
