"""The rules judge on the other real fixture formats (tau-bench, Who&When, Inspect, ATIF, Claude Code, OTel,
MAST-Data), read by eye: each expectation carries its reason. Unflagged failed runs are written down too:
what rules cannot see there is said, so a later change that starts flagging them is noticed."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import FIXTURES, require_fixtures

import mastlens
from mastlens.judges.rules import judge_trace
from mastlens.trace import Trace, Verdict

P, A, N = "present", "absent", "not_assessed"
CTF = "inspect_ai/docent_ctf.json"
MAD = "mast_data/MAD_human_labelled_dataset.json"

# (fixture file or folder, trace id, mode, expected status, why)
EXPECTED = [
    # tau-bench airline (gpt-4o): policy and wrong-action failures are beyond rules; no false alarms
    # tau-13 is a real repetition rules miss on purpose: the HAT030 update fails five times with the same
    # error and the same apology is sent thrice, but a new user message comes between every repeat, and new
    # input may justify trying again (precision first: rules do not guess which input was really new)
    ("tau_bench", "tau-13-0", "FM-1.3", A, "every repeat of the call and of the apology follows new user words"),
    ("tau_bench", "tau-13-0", "FM-2.5", A, "every 'Error: flight ... not available' is named in the reply"),
    ("tau_bench", "tau-10-0", "FM-3.2", A, "reward 0 for wrong actions; each write is read back or self-confirming"),
    ("tau_bench", "tau-11-0", "FM-2.5", A, "success: its one tool error is acknowledged"),
    ("tau_bench", "tau-12-0", "FM-1.5", A, "success: ends on the user's stop with a final reply"),
    # Inspect CTF: epoch 2 submits wrong flags (reward 0); wrong answers from good evidence are beyond rules
    (CTF, "inspect_evals/luce_intercode_ctf/59/2", "FM-1.3", A, "three submits with three different flags"),
    (CTF, "inspect_evals/luce_intercode_ctf/59/2", "FM-1.5", A, "v4: ends on its submit call, a finish by design"),
    (CTF, "inspect_evals/luce_intercode_ctf/59/2", "FM-2.5", A, "'whois: command not found' is named next"),
    (CTF, "inspect_evals/luce_intercode_ctf/59/1", "FM-1.3", A, "solved: every call differs"),
    # ATIF (Harbor golden trajectories) and Claude Code (hand-made sessions): short clean runs
    ("atif/openhands_hello-world.trajectory.json", "NORMALIZED_SESSION_ID", "FM-3.2", N,
     "ends on the finish tool, no final message to check against"),
    ("atif/terminus_2_hello-world-context-summarization-linear-history.trajectory.json", "NORMALIZED_SESSION_ID",
     "FM-2.1", A, "context summarization is not a reset"),
    ("claude_code/compaction_session.jsonl", "test-session-005", "FM-2.1", A, "compaction alone is not a reset"),
    ("claude_code/tool_call_conversation.jsonl", "test-session-002", "FM-1.5", A, "one Read, then the answer"),
    # OTel / OpenInference: single model calls, too little to repeat or loop
    ("openinference/openinference_client_span_tool_calls.json", "openinference_client_span_tool_calls", "FM-1.3",
     A, "one weather call"),
    ("openinference/vercel_ai_sdk_v6_all-spans.json", "b3e700af9eab81e19f72f964d62a35af", "FM-1.3", N,
     "a single generation, nothing to compare"),
    # MAST-Data (labels by round; old rounds use other codes, so these are read by eye, not from the labels)
    (MAD, "Round 1/HyperAgent/SWE-Bench-Lite/1", "FM-1.3", P,
     "the Planner restates its opening plan three times and the navigator redoes the same file read"),
    (MAD, "Round 3/HyperAgent/SWE-Bench-Lite/10", "FM-1.3", P,
     "the folder-structure exploration redone four times with the same answers (one annotator: repetition)"),
    (MAD, "Round 2/AppWorld/Test-C/5", "FM-1.3", A,
     "'skip to the next song' repeated as the task asks, a new song each time: iteration"),
    (MAD, "Round 1/AG2/GSM-Plus/2", "FM-1.3", A,
     "the proxy's canned 'Continue' prompt meets a different reply each time (the loop is FM-1.5, unrecorded)"),
    (MAD, "Round 1/ChatDev/ProgramDev/3", "FM-2.1", A,
     "v6: each phase opens a chat of its own with its own prompt (progress carried in it), none a copy of the opening"),
    (MAD, "Round 1/HyperAgent/SWE-Bench-Lite/1", "FM-2.1", P,
     "v6: the harness initializes a new HyperAgent session mid-run and the Planner's opening plan comes again word "
     "for word"),
    (MAD, "Round 3/HyperAgent/SWE-Bench-Lite/10", "FM-2.1", P,
     "v6: new sessions initialized mid-run, each restarting the plan from its first step"),
    (MAD, "Round 2/HyperAgent/SWE-Bench-Lite/6", "FM-2.1", A, "v6: one session, started once at the beginning"),
    (MAD, "Round 1/AG2/GSM-Plus/2", "FM-1.5", P,
     "v6: the proxy sends its canned 'Continue' four times though the assistant concluded the problem cannot be "
     "solved: an auto-reply that never sees the task end"),
    (MAD, "Round 3/AG2/GSM-Plus/12", "FM-1.5", A, "v6: the same 'Continue' prompt, once, then code runs and an answer"),
]

# Who&When: (record, mistake step from metadata["attribution"]["step"]).
WHO_AND_WHEN = ["Algorithm-Generated/1", "Algorithm-Generated/102", "Algorithm-Generated/84", "Hand-Crafted/33",
                "Hand-Crafted/43", "Hand-Crafted/6"]


@pytest.fixture(autouse=True)
def _needs_fixtures() -> None:
    require_fixtures()


@cache
def _traces(source: str) -> dict[str, Trace]:
    return {t.id: t for t in mastlens.load_traces(str(FIXTURES / source))}


@cache
def _judged(source: str, trace_id: str) -> Verdict:
    return judge_trace(_traces(source)[trace_id])


@pytest.mark.parametrize(("source", "trace_id", "mode", "status", "why"), EXPECTED,
                         ids=[f"{e[1][-24:]}:{e[2]}" for e in EXPECTED])
def test_expected_verdicts_on_fixtures(source, trace_id, mode, status, why):
    verdict = _judged(source, trace_id).modes[mode]
    assert verdict.status.value == status, f"{why}: {verdict.reason}"
    if status == P:
        assert verdict.evidence and all(e.verified and e.quote for e in verdict.evidence)


def test_findings_on_formats_without_failure_markers():
    """Inspect, ATIF, Claude Code and OTel samples: no rule fires (their failures are reasoning over good
    evidence). tau-bench: FM-3.2's blind-retry rule fires, on runs where a booking or change the system
    rejected is made again after nothing but a calculation, and (rules v7) FM-1.1 on runs that write to the
    booking database without the user's explicit yes the policy demands (v5-v6 also had FM-3.3 on writes whose
    returned record contradicted their arguments: dropped in v7); every finding quotes its steps."""
    for source in ("inspect_ai", "atif", "claude_code", "openinference"):
        for trace_id in _traces(source):
            assert _judged(source, trace_id).present() == [], f"{source} {trace_id}"
    traces = _traces("tau_bench")
    for trace_id, trace in traces.items():
        verdict = _judged("tau_bench", trace_id)
        assert set(verdict.present()) <= {"FM-1.1", "FM-3.2"}, trace_id
        if "FM-1.1" in verdict.present():
            assert "without the user agreeing first" in verdict.modes["FM-1.1"].reason
        if "FM-3.2" in verdict.present():
            reason = verdict.modes["FM-3.2"].reason
            assert "committed again without a look-up" in reason or (
                "no tool check passed" in reason and trace.n_tool_calls == 0), reason
            by_index = {s.index: s for s in trace.steps}
            assert all(e.quote in (by_index[e.step].content or str(by_index[e.step].arguments))
                       or by_index[e.step].kind.value == "tool_call" for e in verdict.modes["FM-3.2"].evidence)


def test_who_and_when_findings_against_the_attributed_mistake_step():
    """Who&When records carry the step and agent of the decisive mistake; every run failed. Rules v4, read by
    eye: AG2 teams whose answer a teammate calls verified without running anything (1, 102: FM-3.2), a run
    whose answer no passing execution backs (84: its only execution failed, FM-3.2; rules v5: its closing
    turn asks a teammate to describe the board, then a bare TERMINATE, FM-3.1), Magentic-One runs that stop right after a worker's crash (33) or on
    a ledger declaring the request satisfied with no check (6, 43). Every quote is cut from its step; the
    decisive step is named exactly when a mode is present, and on the two AG2 runs whose first turn after
    the task is the mistake it is the human's step and agent."""
    traces = _traces("who_and_when")
    assert sorted(traces) == sorted(WHO_AND_WHEN)
    found = {}
    for trace_id, trace in traces.items():
        step = trace.metadata["attribution"]["step"]
        assert isinstance(step, int) and 0 <= step < len(trace.steps)
        verdict = _judged("who_and_when", trace_id)
        if verdict.present():
            found[trace_id] = sorted(verdict.present())
        assert (verdict.decisive_step is not None) == bool(verdict.present()), trace_id
        assert verdict.decisive_reason or verdict.decisive_step is None
        by_index = {s.index: s for s in trace.steps}
        for mode in verdict.modes.values():
            assert all(e.quote and e.quote in by_index[e.step].content for e in mode.evidence), (trace_id, mode.id)
        if trace_id in ("Algorithm-Generated/1", "Algorithm-Generated/102"):
            attribution = trace.metadata["attribution"]
            assert (verdict.decisive_step, verdict.decisive_agent) == (step, attribution["mistake_agent"])
    assert found == {"Algorithm-Generated/1": ["FM-3.2"], "Algorithm-Generated/102": ["FM-3.2"],
                     "Algorithm-Generated/84": ["FM-3.1", "FM-3.2"], "Hand-Crafted/33": ["FM-3.1"],
                     "Hand-Crafted/43": ["FM-3.2"], "Hand-Crafted/6": ["FM-3.2"]}


def test_mast_data_findings_are_only_the_read_ones():
    traces = _traces(MAD)
    found = {tid: _judged(MAD, tid).present() for tid in traces}
    assert {tid: modes for tid, modes in found.items() if modes} == {
        # v4: HyperAgent planners call a navigator's findings verified without a check of their own (FM-3.2)
        # v6: HyperAgent sessions restarted mid-run (FM-2.1); AG2's proxy repeating 'Continue' to the end (FM-1.5)
        "Round 1/HyperAgent/SWE-Bench-Lite/1": ["FM-1.3", "FM-2.1", "FM-3.2"],
        "Round 2/HyperAgent/SWE-Bench-Lite/6": ["FM-3.2"],
        "Round 3/HyperAgent/SWE-Bench-Lite/10": ["FM-1.3", "FM-2.1", "FM-3.2"],
        "Round 1/AG2/GSM-Plus/2": ["FM-1.5"],
        # v6: team answers taking over a teammate's or an execution's result unchecked (FM-3.2)
        "Round 2/AppWorld/Test-C/5": ["FM-3.2"], "Round 2/AG2/GSM-Plus/7": ["FM-3.2"],
        "Round 3/AG2/GSM-Plus/12": ["FM-3.2"], "Generlazability/GAIA/Magentic/17": ["FM-3.2"],
        # v4: AppWorld's code output is paired with its turn; a TypeError passed over by "successfully logged in"
        "Round 3/AppWorld/Test-C/11": ["FM-2.5", "FM-3.2"]}
