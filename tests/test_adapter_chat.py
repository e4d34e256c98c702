"""The OpenAI-style chat adapter: the three layouts, tool pairing, content parts, ids and outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mastlens.adapters.loader import read_file
from mastlens.adapters.registry import detect_file
from mastlens.trace import StepKind

CONVERSATION = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": [{"type": "text", "text": "Where is order 42?"},
                                 {"type": "image_url", "image_url": {"url": "data:..."}}]},
    {"role": "assistant", "content": None, "reasoning_content": "Look the order up first.",
     "tool_calls": [{"id": "c1", "type": "function",
                     "function": {"name": "get_order", "arguments": "{\"order_id\": 42}"}},
                    {"id": "c2", "type": "function", "function": {"name": "get_carrier", "arguments": "not json"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"status\": \"shipped\"}"},
    {"role": "tool", "tool_call_id": "c2", "content": "Error: carrier service unavailable"},
    {"role": "assistant", "name": "support", "content": "Your order has shipped."},
]


def write(path: Path, data, *, jsonl: bool = False) -> Path:
    text = "\n".join(json.dumps(r) for r in data) + "\n" if jsonl else json.dumps(data)
    path.write_text(text, encoding="utf-8")
    return path


def test_bare_list_of_messages(tmp_path):
    result = read_file(write(tmp_path / "chat.json", CONVERSATION))
    assert result.format == "openai" and result.failures == []
    (trace,) = result.traces
    assert trace.id == "chat.json#0" and trace.source.record == 0
    assert [s.kind for s in trace.steps] == [
        StepKind.SYSTEM, StepKind.USER, StepKind.REASONING, StepKind.TOOL_CALL, StepKind.TOOL_CALL,
        StepKind.TOOL_RESULT, StepKind.TOOL_RESULT, StepKind.ASSISTANT,
    ]
    user, calls, results = trace.steps[1], trace.steps[3:5], trace.steps[5:7]
    assert user.content == "Where is order 42?\n[image_url]"
    assert [c.arguments for c in calls] == [{"order_id": 42}, "not json"]
    assert [(r.call_id, r.tool) for r in results] == [("c1", "get_order"), ("c2", "get_carrier")]
    assert results[1].metadata == {"is_error": True} and results[0].metadata == {}
    assert trace.steps[-1].agent == "support"
    assert trace.outcome.success is None and trace.model is None


def test_jsonl_records_with_ids_models_and_outcomes(tmp_path):
    records = [
        {"id": "run-a", "model": "gpt-4.1-mini", "task": "refund", "outcome": {"success": False, "score": 0.25,
                                                                              "turns": 3},
         "messages": CONVERSATION},
        {"model": "qwen3", "outcome": "failed", "messages": CONVERSATION[:2]},
        {"id": "run-c", "outcome": 1, "messages": CONVERSATION[:2],
         "tools": [{"type": "function", "function": {"name": "get_order"}}]},
    ]
    result = read_file(write(tmp_path / "runs.jsonl", records, jsonl=True))
    assert result.failures == []
    a, b, c = result.traces
    assert (a.id, a.model, a.task, a.source.line) == ("run-a", "gpt-4.1-mini", "refund", 1)
    assert (a.outcome.success, a.outcome.score, a.outcome.metrics) == (False, 0.25, {"turns": 3})
    assert a.outcome.success_from == "source"
    assert (b.id, b.outcome.success, b.outcome.metrics) == ("runs.jsonl#1", False, {"status": "failed"})
    assert (c.outcome.score, c.outcome.success, c.outcome.success_from) == (1.0, True, "rule")
    assert c.metadata["tools"] == ["get_order"]


def test_messages_object_and_list_of_records(tmp_path):
    (single,) = read_file(write(tmp_path / "one.json", {"id": "x", "messages": CONVERSATION})).traces
    assert single.id == "x" and single.n_tool_calls == 2
    listed = read_file(write(tmp_path / "many.json", [{"messages": CONVERSATION}, {"messages": CONVERSATION[:1]}]))
    assert [t.id for t in listed.traces] == ["many.json#0", "many.json#1"]


def test_bad_record_reported_others_read(tmp_path):
    records = [{"messages": CONVERSATION}, {"messages": [{"content": "no role"}]}, {"messages": CONVERSATION[:2]}]
    result = read_file(write(tmp_path / "runs.jsonl", records, jsonl=True))
    assert [t.id for t in result.traces] == ["runs.jsonl#0", "runs.jsonl#2"]
    (failure,) = result.failures
    assert (failure.line, failure.format) == (2, "openai") and "message 0 has no role" in failure.reason


def test_forced_format_on_another_schema_is_one_clear_error(tmp_path):
    path = write(tmp_path / "x.json", [{"task_id": 1, "traj": []}])
    result = read_file(path, "openai")
    assert result.traces == []
    (failure,) = result.failures
    assert failure.format == "openai" and failure.reason.startswith("not OpenAI chat messages")


@pytest.mark.parametrize("sub, expected", [
    ("tau_bench", "tau"), ("mast_data", "mad"), ("codex_rollout_format", "codex"),
])
def test_sniffers_keep_formats_apart(fixtures_dir, sub, expected):
    for path in (fixtures_dir / sub).iterdir():
        assert detect_file(path).name == expected, path


def test_no_other_fixture_is_taken_for_chat_tau_or_mad(fixtures_dir):
    """Files of formats with chat messages inside (Inspect, Who&When, Claude Code, ATIF, OTel) are not ours."""
    mine = {"openai", "tau", "mad"}
    owned = {"tau_bench", "mast_data"}
    for path in sorted(fixtures_dir.rglob("*.json*")):
        if owned.isdisjoint(path.parts):
            found = detect_file(path)
            assert found is None or found.name not in mine, path


def test_bundled_chat_examples(tmp_path):
    import sys

    from conftest import EXAMPLES

    sys.path.insert(0, str(EXAMPLES))
    from chat_runs import story_of, write_chat_examples

    made = write_chat_examples(tmp_path)
    bundled = EXAMPLES / "chat" / "support_runs.jsonl"
    assert made.read_bytes() == bundled.read_bytes()  # the committed file is what the generator writes
    result = read_file(bundled)
    assert result.format == "openai" and result.failures == []
    runs = {t.id: t for t in result.traces}
    originals = {"support-clean": ("gpt-4.1-mini", True), "support-loop": ("qwen3-32b", False),
                 "support-false-success": ("qwen3-32b", False), "support-unfinished": ("gpt-4.1-mini", False),
                 "support-reissued": ("qwen3-32b", False)}
    assert {i: (t.model, t.outcome.success) for i, t in runs.items() if i in originals} == originals
    succeeding = {"clean", "recovered", "repeat-lookup"}  # the stories that end well
    for run_id, trace in runs.items():
        assert trace.outcome.success is (story_of(run_id) in succeeding), run_id
    for model in ("gpt-4.1-mini", "qwen3-32b"):  # enough runs per model for a signature
        outcomes = [t.outcome.success for t in runs.values() if t.model == model]
        assert len(outcomes) >= 8 and outcomes.count(True) >= 5 and outcomes.count(False) >= 5, model
    # the failure shapes the runs were written to contain
    loop = [(s.tool, json.dumps(s.arguments)) for s in runs["support-loop"].steps if s.kind is StepKind.TOOL_CALL]
    assert len(loop) == 5 and len(set(loop)) == 1
    outputs = {s.content for s in runs["support-loop"].steps if s.kind is StepKind.TOOL_RESULT}
    assert len(outputs) == 1
    false_success = runs["support-false-success"].steps
    assert false_success[-2].metadata == {"is_error": True} and "successfully" in false_success[-1].content
    unfinished = runs["support-unfinished"]
    assert {s.tool for s in unfinished.steps if s.kind is StepKind.TOOL_CALL} == {"lookup_order"}
    assert unfinished.steps[-1].kind is StepKind.ASSISTANT and "I will now update" in unfinished.steps[-1].content
    users = [s.content for s in runs["support-reissued"].steps if s.kind is StepKind.USER]
    assert len(users) == 2 and users[0] in users[1]
    clean = runs["support-clean"]
    assert not any(s.metadata.get("is_error") for s in clean.steps) and "RF-90017" in clean.steps[-1].content
