"""tau-bench's ReAct and Act agents write their actions as JSON in the assistant's text and get tool outputs back as
``API output: ...`` user messages (tau_bench/agents/chat_react_agent.py). The reader turns them into tool calls and
results, the thought into reasoning and ``respond`` into the agent's words, so the rules judge them as it judges a
tool-calling agent. Constructed records in that documented shape; the tool-calling dev records are unaffected."""

from __future__ import annotations

import json

from rules_traces import verdict_of

from mastlens.adapters.loader import read_file
from mastlens.trace import ModeStatus, StepKind

POLICY = ("# Retail agent policy\nBefore taking consequential actions that update the database (cancel, modify, "
          "return, exchange), you have to list the action detail and obtain explicit user confirmation (yes) to "
          "proceed.\n#Available tools\n[]\n# Instruction\nYou need to act as an agent that use the above tools ...")


def _act(name: str, arguments: dict, thought: str | None = "I should look this up.") -> dict:
    action = json.dumps({"name": name, "arguments": arguments})
    text = (f"Thought:\n{thought}\nAction:\n{action}" if thought else f"Action:\n{action}")
    return {"role": "assistant", "content": text}


def _record(traj: list[dict], reward: float = 0.0) -> dict:
    return {"task_id": 3, "trial": 0, "reward": reward, "info": {"task": {"user_id": "yusuf_1"}}, "traj": traj}


def _trajectory(*, confirmed: bool) -> list[dict]:
    traj = [{"role": "system", "content": POLICY},
            {"role": "user", "content": "Hi, please cancel my order #W123, I ordered by mistake."},
            _act("get_order_details", {"order_id": "#W123"}),
            {"role": "user", "content": 'API output: {"order_id": "#W123", "status": "pending"}'},
            _act("respond", {"content": "Order #W123 is pending. Shall I cancel it for the reason 'ordered by "
                                        "mistake'? Please confirm (yes)."}, thought="I must ask first.")]
    traj += [{"role": "user", "content": "Yes, go ahead."}] if confirmed else [{"role": "user", "content": "Hmm."}]
    traj += [_act("cancel_pending_order", {"order_id": "#W123", "reason": "ordered by mistake"}, thought=None),
             {"role": "user", "content": 'API output: {"order_id": "#W123", "status": "cancelled"}'},
             _act("respond", {"content": "Your order is cancelled."}),
             {"role": "user", "content": "Thanks! ###STOP###"}]
    return traj


def _read(tmp_path, records: list[dict]):
    path = tmp_path / "react-retail.json"
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    result = read_file(path)
    assert result.format == "tau" and not result.failures
    return result.traces


def test_actions_in_text_become_tool_calls_and_results(tmp_path):
    (trace,) = _read(tmp_path, [_record(_trajectory(confirmed=True), 1.0)])
    kinds = [s.kind for s in trace.steps]
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    assert [c.tool for c in calls] == ["get_order_details", "cancel_pending_order"]
    assert calls[1].arguments == {"order_id": "#W123", "reason": "ordered by mistake"}
    assert [r.call_id for r in results] == [c.call_id for c in calls] and results[1].content.startswith('{"order_id"')
    assert not any("API output" in s.content for s in trace.steps)
    said = [s.content for s in trace.steps if s.kind is StepKind.ASSISTANT]
    assert said[0].startswith("Order #W123 is pending") and said[-1] == "Your order is cancelled."
    assert [s.content for s in trace.steps if s.kind is StepKind.REASONING][0] == "I should look this up."
    assert kinds.count(StepKind.USER) == 3 and trace.metadata["actions_in_text"] == "react"


def test_the_gate_reads_the_react_agents_writes(tmp_path):
    confirmed, unconfirmed = _read(tmp_path, [_record(_trajectory(confirmed=True), 1.0),
                                              {**_record(_trajectory(confirmed=False)), "trial": 1}])
    assert verdict_of(confirmed, "FM-1.1").status is ModeStatus.ABSENT
    verdict = verdict_of(unconfirmed, "FM-1.1")
    cancel = next(s.index for s in unconfirmed.steps if s.tool == "cancel_pending_order")
    assert verdict.status is ModeStatus.PRESENT and f"(step(s) {cancel})" in verdict.reason


def test_an_action_that_is_no_json_was_said_to_the_user(tmp_path):
    traj = [{"role": "system", "content": POLICY}, {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Thought:\nGreet.\nAction:\nHello! How can I help?"},
            {"role": "user", "content": "Where is my order?"},
            _act("get_order_details", {"order_id": "#W9"}), {"role": "user", "content": "API output: Error: not found"}]
    (trace,) = _read(tmp_path, [_record(traj)])
    assert [s.content for s in trace.steps if s.kind is StepKind.ASSISTANT] == ["Hello! How can I help?"]
    assert [s.tool for s in trace.steps if s.kind is StepKind.TOOL_RESULT] == ["get_order_details"]


def test_tool_calling_records_are_read_as_before(fixtures_dir):
    from pathlib import Path

    result = read_file(fixtures_dir / Path("tau_bench") / "gpt-4o-airline.subset.json")
    assert result.traces and not any("actions_in_text" in t.metadata for t in result.traces)
    assert sum(s.kind is StepKind.TOOL_CALL for t in result.traces for s in t.steps) > 0
