"""Golden tests of the Codex CLI rollout adapter: the shared format samples and generated rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from itbench_factory import big_run, write_run

from mastlens.adapters.base import HEAD_BYTES
from mastlens.adapters.loader import read_file
from mastlens.adapters.registry import detect_dir, detect_file
from mastlens.trace import StepKind

CODEX = "codex_rollout_format"
TOOLS = "rollout-2026-08-01T10-01-00-0199aaaa-0000-7000-8000-000000000002.jsonl"
ROLLBACK = "rollout-2026-08-01T10-05-00-0199aaaa-0000-7000-8000-000000000006.jsonl"


def read_one(path: Path, fmt: str = "auto"):
    result = read_file(path, fmt)
    assert result.format == "codex", result.failures
    assert len(result.traces) == 1
    return result.traces[0], result


def kinds(trace, kind):
    return [s for s in trace.steps if s.kind is kind]


def test_fixture_with_shell_and_patch_calls(fixtures_dir):
    trace, result = read_one(fixtures_dir / CODEX / TOOLS)
    assert not result.failures
    assert trace.id == "0199aaaa-0000-7000-8000-000000000002"
    assert trace.model == "gpt-5.1-codex"
    assert trace.metadata["cli_version"] == "0.146.1" and trace.metadata["originator"] == "codex_cli_rs"
    calls = kinds(trace, StepKind.TOOL_CALL)
    assert [c.tool for c in calls] == ["shell", "apply_patch"]
    assert calls[0].arguments == {"command": ["pytest", "-x"]}
    results = kinds(trace, StepKind.TOOL_RESULT)
    assert [r.call_id for r in results] == ["call_1", "call_2"] == [c.call_id for c in calls]
    assert [r.tool for r in results] == ["shell", "apply_patch"]
    shell = results[0]
    assert shell.metadata["exit_code"] == 1 and shell.metadata["duration_s"] == 1.2
    assert shell.metadata["is_error"] is True
    assert shell.content.endswith("FAILED tests/test_x.py")
    assert results[1].metadata["exit_code"] is None and "is_error" not in results[1].metadata
    assert trace.metadata["tokens"]["total_tokens"] == 600
    assert trace.steps[-1].kind is StepKind.ASSISTANT and trace.steps[-1].metadata["phase"] == "final_answer"
    assert [s.index for s in trace.steps] == list(range(len(trace.steps)))


def test_fixture_with_rollback(fixtures_dir):
    trace, _ = read_one(fixtures_dir / CODEX / ROLLBACK)
    assert trace.id == "0199aaaa-0000-7000-8000-000000000006"
    assert trace.n_tool_calls == 0
    assert [s.content for s in kinds(trace, StepKind.USER)] == ["q1", "q2", "q3"]
    assert [s.content for s in kinds(trace, StepKind.ASSISTANT)] == ["a1", "a2", "a3"]
    events = kinds(trace, StepKind.EVENT)
    assert len(events) == 1 and events[0].metadata["event"] == "thread_rolled_back"
    assert events[0].metadata["num_turns"] == 1
    assert trace.metadata["tokens"]["total_tokens"] == 300


def test_no_other_fixture_is_claimed(fixtures_dir):
    """The Codex and ITBench sniffers leave every other format's files and folders alone."""
    for path in sorted(fixtures_dir.rglob("*")):
        if path.is_dir():
            found = detect_dir(path)
            assert found is None or found.name != "itbench", path
        elif path.suffix in (".json", ".jsonl") and CODEX not in path.parts:
            found = detect_file(path)
            assert found is None or found.name not in ("codex", "itbench"), path


def test_big_generated_rollout_kept_whole(tmp_path):
    facts = big_run(tmp_path / "m" / "scenario_2" / "1", scale=300)
    rollout = next((tmp_path / "m").rglob("rollout-*.jsonl"))
    assert 1_000_000 < rollout.stat().st_size < 3_000_000
    trace, result = read_one(rollout)
    assert not result.failures
    assert trace.id == facts.session_id and trace.model == facts.model
    assert trace.n_tool_calls == facts.tool_calls
    results = kinds(trace, StepKind.TOOL_RESULT)
    shell_codes = [r.metadata["exit_code"] for r in results if r.tool == "shell"]
    assert shell_codes == facts.exit_codes
    assert max(len(r.content) for r in results) == len(facts.biggest_output)
    assert facts.biggest_output in [r.content for r in results]
    # echoes dropped: one task message, one final answer, reasoning summaries once each
    assert len(kinds(trace, StepKind.USER)) == 1
    assert len(kinds(trace, StepKind.ASSISTANT)) == 1
    records = [json.loads(line) for line in rollout.read_text().splitlines()]
    summaries = [r for r in records if r["type"] == "response_item" and r["payload"]["type"] == "reasoning"]
    assert len(kinds(trace, StepKind.REASONING)) == len(summaries)
    assert trace.metadata["skipped_records"].get("response_item:ghost_snapshot") == 1
    assert not any("gAAAAB" in s.content for s in trace.steps)
    systems = kinds(trace, StepKind.SYSTEM)
    assert systems[0].index == 0 and systems[0].metadata["source"] == "session_meta"
    assert systems[1].metadata["injected"] == "agents_md"
    assert trace.metadata["turns"] == facts.turns
    assert trace.metadata["tokens"]["total_tokens"] > 0
    assert any(s.tokens for s in kinds(trace, StepKind.TOOL_CALL))


def test_mcp_calls_and_text_shell_outputs(tmp_path):
    facts = write_run(tmp_path / "run", model="kimi-k2-thinking", pattern="ignored_error", shell_format="text")
    trace, _ = read_one(next(tmp_path.rglob("rollout-*.jsonl")))
    mcp = [s for s in trace.steps if s.tool and s.tool.startswith("mcp__")]
    assert [s.kind for s in mcp] == [StepKind.TOOL_CALL, StepKind.TOOL_RESULT]
    assert mcp[0].metadata["mcp_server"] == "offline_incident_analysis"
    assert mcp[1].content.startswith("frontend-proxy -> frontend") and mcp[1].metadata["output_shape"] == "mcp-parts"
    shell = [s for s in kinds(trace, StepKind.TOOL_RESULT) if s.tool == "shell"]
    assert [s.metadata["exit_code"] for s in shell] == facts.exit_codes
    assert facts.exit_codes[-2:] == [1, 2]
    assert all(s.metadata.get("is_error") for s in shell if s.metadata["exit_code"])
    assert shell[-1].content.startswith("Exit code: 2\n")


@pytest.mark.parametrize("pattern,event,count", [("turn_limit", "turn_aborted", 1), ("task_reissued", "compacted", 1)])
def test_events_kept(tmp_path, pattern, event, count):
    write_run(tmp_path / "run", model="gpt-oss-120b", pattern=pattern)
    trace, _ = read_one(next(tmp_path.rglob("rollout-*.jsonl")))
    events = [s for s in trace.steps if s.metadata.get("event") == event]
    assert len(events) == count
    assert all(s.kind is StepKind.EVENT for s in events)
    if event == "compacted":
        assert events[0].content.startswith("Summary so far")
        users = kinds(trace, StepKind.USER)
        assert len(users) == 2 and users[0].content == users[1].content  # the task, re-issued
    # gpt-oss writes raw reasoning text instead of summaries
    assert kinds(trace, StepKind.REASONING) and all(s.metadata.get("raw") for s in kinds(trace, StepKind.REASONING))


def _record(rtype, payload, ts="2026-01-01T00:00:00.000Z"):
    return json.dumps({"timestamp": ts, "type": rtype, "payload": payload})


def test_instructions_from_messages_models_and_outputs(tmp_path):
    lines = [
        _record("session_meta", {"id": "s-1", "cli_version": "0.50.0", "originator": "codex_exec"}),
        _record("response_item", {"type": "message", "role": "developer",
                                  "content": [{"type": "input_text", "text": "You are an SRE agent."}]}),
        _record("response_item", {"type": "message", "role": "user",
                                  "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]}),
        _record("turn_context", {"model": "model-a"}),
        _record("response_item", {"type": "function_call", "name": "mcp__k8s__get", "arguments": "{not json",
                                  "call_id": "c1"}),
        _record("response_item", {"type": "function_call_output", "call_id": "c1",
                                  "output": {"content": [{"type": "text", "text": "boom"}], "isError": True}}),
        _record("turn_context", {"model": "model-b"}),
        _record("turn_context", {"model": "model-b"}),
        _record("response_item", {"type": "function_call_output", "call_id": "zz", "output": "late"}),
        _record("response_item", {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c2"}),
        _record("event_msg", {"type": "agent_message", "message": "only in the event stream"}),
        _record("response_item", {"type": "unknown_kind"}),
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    trace, result = read_one(path)
    assert not result.failures
    assert [s.kind for s in trace.steps[:2]] == [StepKind.SYSTEM, StepKind.SYSTEM]
    assert trace.steps[1].metadata["injected"] == "environment_context"
    assert trace.model == "model-b" and trace.metadata["models"] == {"model-a": 1, "model-b": 2}
    call, out = trace.steps[2], trace.steps[3]
    assert call.arguments == "{not json" and call.tool == "mcp__k8s__get"
    assert out.content == "boom" and out.metadata["is_error"] is True and out.tool == "mcp__k8s__get"
    assert trace.steps[4].metadata["orphan"] is True
    assert trace.steps[5].metadata["no_output"] is True
    assert trace.steps[6].kind is StepKind.ASSISTANT and trace.steps[6].content == "only in the event stream"
    assert trace.metadata["skipped_records"] == {"response_item:unknown_kind": 1}


def test_first_line_longer_than_the_head_and_truncated_tail(tmp_path):
    instructions = "Investigate the incident. " * (HEAD_BYTES // 10)
    lines = [_record("session_meta", {"id": "long-1", "instructions": instructions}),
             _record("response_item", {"type": "message", "role": "user",
                                       "content": [{"type": "input_text", "text": "go"}]})]
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[1][:30])
    assert len(lines[0]) > HEAD_BYTES
    trace, result = read_one(path)
    assert trace.id == "long-1" and trace.steps[0].content == instructions
    assert [(f.line, f.format) for f in result.failures] == [(3, "codex")]
    assert "truncated" in result.failures[0].reason


def test_other_format_read_as_codex_fails_cleanly(fixtures_dir):
    result = read_file(fixtures_dir / "claude_code" / "tool_call_conversation.jsonl", "codex")
    assert not result.traces
    assert len(result.failures) == 1 and result.failures[0].line == 1
    assert result.failures[0].reason.startswith("not a Codex rollout")


@pytest.mark.parametrize("raw,text,code,duration,error", [
    ('{"output": "pods", "metadata": {"exit_code": 0, "duration_seconds": 0.5}}', "pods", 0, 0.5, False),
    ("Exit code: 1\nWall time: 2.5 seconds\nOutput:\nboom", "Exit code: 1\nWall time: 2.5 seconds\nOutput:\nboom",
     1, 2.5, True),
    ("Chunk ID: 9f\nWall time: 0.2 seconds\nProcess exited with code 127\nOutput:\nno kubectl",
     "Chunk ID: 9f\nWall time: 0.2 seconds\nProcess exited with code 127\nOutput:\nno kubectl", 127, 0.2, True),
    ('[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]', "a\nb", None, None, False),
    ('[{"type": "alert", "name": "x"}]', '[{"type": "alert", "name": "x"}]', None, None, False),
    ("execution error: sandbox denied", "execution error: sandbox denied", None, None, True),
    ("Plan updated", "Plan updated", None, None, False),
])
def test_output_shapes(raw, text, code, duration, error):
    from mastlens.adapters.codex.output import parse_output

    out = parse_output(raw)
    assert (out.text, out.exit_code, out.duration_s, out.is_error) == (text, code, duration, error)


def test_record_of_unexpected_shape_is_one_failure_line(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join([
        _record("session_meta", {"id": "odd"}),
        _record("response_item", {"type": "local_shell_call", "call_id": "x", "action": "ls"}),
        _record("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
    ]) + "\n")
    trace, result = read_one(path)
    assert [s.content for s in trace.steps] == ["hi"]
    assert [(f.line, f.format) for f in result.failures] == [(2, "codex")]
    assert "unexpected response_item record shape" in result.failures[0].reason


def test_task_only_in_the_event_stream_stays_a_user_step(tmp_path):
    """The AGENTS.md message repeats the prompt; the task the user typed exists only as an event."""
    prompt = "Diagnose the incident in namespace otel-demo and write agent_output.json."
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([
        _record("session_meta", {"id": "t-1", "instructions": prompt}),
        _record("response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\n{prompt}\n</INSTRUCTIONS>"}]}),
        _record("event_msg", {"type": "user_message", "message": prompt, "images": []}),
    ]) + "\n")
    trace, _ = read_one(path)
    assert [s.kind for s in trace.steps] == [StepKind.SYSTEM, StepKind.SYSTEM, StepKind.USER]
    assert trace.steps[2].content == prompt
