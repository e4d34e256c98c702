"""The rules judge on real data: the bundled ITBench and chat examples (examples/README.md says which failure
each run was written to contain) and the Codex rollout format fixtures; the other fixture formats are in
test_rules_fixtures_more.py. Each expectation carries its reason."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import EXAMPLES, FIXTURES, IN_CI, require_fixtures

import mastlens
from mastlens.judges.llm.verify import verify_evidence
from mastlens.judges.rules import judge_trace
from mastlens.trace import Trace, Verdict

P, A, N = "present", "absent", "not_assessed"
CODEX = FIXTURES / "codex_rollout_format"
CODEX_PATCH = CODEX / "rollout-2026-08-01T10-01-00-0199aaaa-0000-7000-8000-000000000002.jsonl"
CODEX_ROLLBACK = CODEX / "rollout-2026-08-01T10-05-00-0199aaaa-0000-7000-8000-000000000006.jsonl"
CHAT = "chat/support_runs.jsonl::"  # <file under examples/>::<trace id>

# (run or file, mode, expected status, why)
EXPECTED = [
    # clean successes: no false positives on what the rules can see
    ("gemini-3-flash/scenario_2/1", "FM-1.3", A, "every call differs"),
    ("gemini-3-flash/scenario_2/1", "FM-1.5", A, "ends with its final answer"),
    ("gemini-3-flash/scenario_2/1", "FM-3.1", A, "diagnosis written with entities"),
    ("gemini-3-flash/scenario_2/1", "FM-3.2", A, "the diagnosis file is read back with jq"),
    ("gemini-3-flash/scenario_2/1", "FM-1.2", A, "read-only task, no cluster change"),
    ("gemini-3-flash/scenario_2/1", "FM-2.5", N, "no tool failed"),
    ("gemini-3-flash/scenario_3/1", "FM-3.2", A, "same clean path for adHighCpu"),
    ("gemini-3-flash/scenario_3/1", "FM-3.1", A, "diagnosis written with entities"),
    # ignored tool errors, declared victory, no diagnosis
    ("gemini-3-flash/scenario_2/2", "FM-2.5", P, "NotFound, read-only FS and jq errors, then 'Confirmed'"),
    ("gemini-3-flash/scenario_2/2", "FM-3.3", P, "'confirms'/'validated' right after the failures"),
    ("gemini-3-flash/scenario_2/2", "FM-3.1", P, "agent_output.json missing although the agent stopped"),
    ("gemini-3-flash/scenario_2/2", "FM-3.2", A, "the write failed (nothing changed) and a jq check did run"),
    # looping until aborted
    ("kimi-k2/scenario_2/1", "FM-1.3", P, "kubectl top pods six times, same output"),
    ("kimi-k2/scenario_2/1", "FM-1.5", P, "the run is cut inside that loop"),
    ("kimi-k2/scenario_2/1", "FM-3.1", N, "cut while looping: the agent did not stop by itself"),
    ("kimi-k2/scenario_2/1", "FM-2.1", A, "compaction alone is not a reset"),
    # stops after one log read
    ("kimi-k2/scenario_3/1", "FM-3.1", P, "declares completion, agent_output.json never written"),
    ("kimi-k2/scenario_3/1", "FM-3.2", P, "the required jq validation never ran"),
    # remediates on a diagnose-only task
    ("kimi-k2/scenario_2/2", "FM-1.2", P, "kubectl patch and rollout restart on a read-only task"),
    ("kimi-k2/scenario_2/2", "FM-3.2", P, "'incident is resolved' with no read-back of flagd-config or cart"),
    ("kimi-k2/scenario_2/2", "FM-3.1", A, "the diagnosis was written"),
    # repeated log reads, wrong conclusion (the wrong conclusion is beyond rules)
    ("gpt-oss-120b/scenario_2/1", "FM-1.3", P, "the same frontend log read five times, same output"),
    ("gpt-oss-120b/scenario_2/1", "FM-1.5", A, "it broke out of the loop and finished"),
    ("gpt-oss-120b/scenario_2/1", "FM-3.3", N, "a wrong root cause from good evidence is not visible to rules"),
    # empty diagnosis
    ("gpt-oss-120b/scenario_3/1", "FM-3.1", P, "agent_output.json written with an empty entities list"),
    ("gpt-oss-120b/scenario_3/1", "FM-2.5", A, "the failed kubectl logs is not followed by a success claim"),
    # reset
    ("gpt-oss-120b/scenario_2/2", "FM-2.1", P, "turn aborted ('replaced') and the task re-issued"),
    ("gpt-oss-120b/scenario_2/2", "FM-1.3", A, "the re-listing comes after new information"),
    # Codex format fixtures
    (CODEX_PATCH, "FM-3.2", P, "apply_patch to x.py, then 'Fixed the failing test.' without re-running pytest"),
    (CODEX_PATCH, "FM-2.5", A, "the failing pytest is the task's subject and is named in the reply"),
    (CODEX_PATCH, "FM-1.5", A, "ends with its final answer"),
    (CODEX_PATCH, "FM-1.2", N, "the task does not say read-only"),
    (CODEX_PATCH, "FM-3.1", A, "v4: tool calls meet the precondition; the last call passed, no promise"),
    (CODEX_ROLLBACK, "FM-2.1", A, "a rollback the user asked for is not a reset"),
    (CODEX_ROLLBACK, "FM-3.2", N, "no tool calls, nothing to verify"),
    (CODEX_ROLLBACK, "FM-1.3", A, "three different short answers"),
    # bundled chat examples (the modes rules can see of those each run was written to contain)
    (CHAT + "support-clean", "FM-3.2", A, "issue_refund is read back with lookup_order before the reply"),
    (CHAT + "support-loop", "FM-1.3", P, "track_shipment five times, same arguments, same answer"),
    (CHAT + "support-loop", "FM-1.5", P, "the record's outcome says stop_reason=max_turns"),
    (CHAT + "support-loop", "FM-3.1", N, "the turn limit stopped it; its closing promise is not its choice"),
    (CHAT + "support-false-success", "FM-2.5", P, "'no refund was created', then 'processed successfully'"),
    (CHAT + "support-false-success", "FM-3.3", P, "that success claim is about the very refund call that failed"),
    (CHAT + "support-unfinished", "FM-3.1", P, "ends on 'I will now update it...'; update_address never called"),
    (CHAT + "support-reissued", "FM-2.1", P, "the customer re-issues the whole request after the agent lost it"),
    (CHAT + "support-reissued", "FM-1.3", A, "one repeated lookup, not three"),
]


@cache
def _judged(source: str) -> tuple[Trace, Verdict]:
    """A run folder under examples/itbench/, ``<file under examples/>::<trace id>``, or a fixture path."""
    if "::" in source:
        name, trace_id = source.split("::")
        (trace,) = [t for t in mastlens.load_traces(str(EXAMPLES / name)) if t.id == trace_id]
    else:
        path = EXAMPLES / "itbench" / source if not source.startswith("/") else source
        (trace,) = mastlens.load_traces(str(path))
    return trace, judge_trace(trace)


def _name(item: tuple) -> str:
    source = item[0].split("::")[-1] if isinstance(item[0], str) else item[0].name[-12:]
    return f"{source}:{item[1]}"


@pytest.mark.parametrize(("source", "mode", "status", "why"), EXPECTED, ids=[_name(e) for e in EXPECTED])
def test_expected_verdicts_on_real_runs(source, mode, status, why):
    if not isinstance(source, str):
        require_fixtures()
    verdict = _judged(str(source))[1].modes[mode]
    assert verdict.status.value == status, f"{why}: {verdict.reason}"
    if status == P:
        assert verdict.evidence and verdict.confidence and verdict.reason


def test_clean_runs_get_no_failure_at_all():
    for run in ("gemini-3-flash/scenario_2/1", "gemini-3-flash/scenario_3/1", CHAT + "support-clean"):
        assert _judged(run)[1].present() == []


# What each chat example was written to contain, less the modes rules never assess (FM-1.4, FM-2.6):
# the rules find exactly these, and nothing else.
# (by story: chat_runs.py retells each story with other orders; ``support-loop-21`` tells ``loop``)
CHAT_WRITTEN_FOR = {
    "clean": set(),
    "recovered": set(),  # the failed refund is owned, the order re-read, the retry read back
    "repeat-lookup": {"FM-1.3"},  # the same lookup three times, then the refund done right
    "loop": {"FM-1.3", "FM-1.5"},
    "false-success": {"FM-2.5", "FM-3.3", "FM-3.1"},  # v4: it also stops right after the failed call
    "unfinished": {"FM-3.1"},
    "reissued": {"FM-2.1"},
}


def test_chat_examples_show_what_they_were_written_to_contain():
    import sys

    sys.path.insert(0, str(EXAMPLES))
    from chat_runs import story_of

    ids = {t.id for t in mastlens.load_traces(str(EXAMPLES / "chat"))}
    assert {story_of(i) for i in ids} == set(CHAT_WRITTEN_FOR) and len(ids) >= 16
    for run in sorted(ids):
        assert set(_judged(CHAT + run)[1].present()) == CHAT_WRITTEN_FOR[story_of(run)], run


def test_every_quote_is_found_in_its_step_by_the_llm_judges_verifier():
    runs = sorted({str(e[0]) for e in EXPECTED if isinstance(e[0], str) or FIXTURES.is_dir() or IN_CI})
    if IN_CI:
        require_fixtures()
    checked = 0
    for run in runs:
        trace, verdict = _judged(run)
        for mode in verdict.modes.values():
            items = [(e.step, e.quote) for e in mode.evidence]
            rechecked = verify_evidence(trace, items)
            assert [(e.step, e.verified) for e in rechecked] == [(s, True) for s, _ in items], mode.id
            checked += len(items)
    assert checked >= 30


# Every failure pattern of the ITBench example generator, in both shell-output shapes Codex wrote
# (JSON-wrapped for older CLIs, "Exit code: N" text for newer ones): the same modes, and only those.
PATTERN_MODES = {
    "clean": set(),
    "loop": {"FM-1.3"},
    "turn_limit": {"FM-1.3", "FM-1.5"},
    "no_output": {"FM-3.1", "FM-3.2"},
    "empty_entities": {"FM-3.1"},
    "ignored_error": {"FM-2.5", "FM-3.1", "FM-3.3"},
    "remediation": {"FM-1.2", "FM-3.2"},
    "task_reissued": {"FM-2.1"},
    "recovered_error": set(),  # the failed lookup is owned and followed by the right one
    "recheck": {"FM-1.3"},  # the same log read three times, then the right diagnosis
}


@pytest.mark.parametrize("shell_format", ["json", "text"])
@pytest.mark.parametrize("pattern", sorted(PATTERN_MODES))
def test_generated_itbench_patterns(tmp_path, pattern, shell_format):
    from itbench_factory import PATTERNS, write_run

    assert set(PATTERN_MODES) == set(PATTERNS)
    run = tmp_path / "gpt-5.1-codex-max" / "scenario_3" / "1"
    write_run(run, model="gpt-5.1-codex-max", scenario="scenario_3", pattern=pattern, seed=7,
              shell_format=shell_format)
    (trace,) = mastlens.load_traces(str(run))
    assert set(judge_trace(trace).present()) == PATTERN_MODES[pattern]


def test_chat_tool_calls_are_quoted_by_their_arguments():
    """Chat formats keep no text on a tool call step, only its arguments: those are what the evidence quotes."""
    verdict = _judged(CHAT + "support-loop")[1].modes["FM-1.3"]
    assert [e.step for e in verdict.evidence] == [3, 6, 9, 12, 15]
    assert {e.quote for e in verdict.evidence} == {'{"order_id":"RO-55120"}'}
