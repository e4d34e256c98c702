"""Anthropic-style content blocks in chat messages: an assistant's ``tool_use`` blocks are its calls, ``thinking`` its
reasoning, and a user message's ``tool_result`` blocks are results (the rest of it is the user's). tau-bench's
Claude function-calling agent stores its trajectories this way (tau_bench/agents/claude_function_calling_agent.py);
constructed records in that shape."""

from __future__ import annotations

import json

from rules_traces import verdict_of

from mastlens.adapters.chat_messages import message_steps
from mastlens.adapters.loader import read_file
from mastlens.trace import ModeStatus, StepKind

POLICY = ("Before taking consequential actions that update the database (cancel, modify, return, exchange), you "
          "have to list the action detail and obtain explicit user confirmation (yes) to proceed.")


def _claude_traj(answer: str) -> list[dict]:
    return [
        {"role": "user", "content": "Please cancel order #W1, I no longer need it."},
        {"role": "assistant", "content": [
            {"type": "text", "text": "<thinking>Look it up.</thinking>"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_order_details", "input": {"order_id": "#W1"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": '{"order_id": "#W1", "status": "pending"}'}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Order #W1 is pending. Cancel it? (yes/no)"}]},
        {"role": "user", "content": answer},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_2", "name": "cancel_pending_order",
             "input": {"order_id": "#W1", "reason": "no longer needed"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2",
                                      "content": '{"order_id": "#W1", "status": "cancelled"}'}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Done: order #W1 is cancelled."}]},
        {"role": "user", "content": "###STOP###"},
    ]


def test_tool_use_and_tool_result_blocks_are_calls_and_results():
    steps = message_steps([{"role": "system", "content": POLICY}, *_claude_traj("yes")])
    calls = [s for s in steps if s.kind is StepKind.TOOL_CALL]
    results = [s for s in steps if s.kind is StepKind.TOOL_RESULT]
    assert [(c.tool, c.call_id) for c in calls] == [("get_order_details", "toolu_1"), ("cancel_pending_order", "toolu_2")]
    assert calls[1].arguments == {"order_id": "#W1", "reason": "no longer needed"}
    assert [(r.tool, r.call_id) for r in results] == [("get_order_details", "toolu_1"), ("cancel_pending_order", "toolu_2")]
    assert results[0].content.startswith('{"order_id"') and "tool_result" not in "".join(s.content for s in steps)
    users = [s.content for s in steps if s.kind is StepKind.USER]
    assert users == ["Please cancel order #W1, I no longer need it.", "yes", "###STOP###"]


def test_thinking_blocks_are_reasoning_and_errors_are_marked():
    steps = message_steps([
        {"role": "user", "content": "Check order 9."},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "The user wants order 9.", "signature": "x"},
                                          {"type": "tool_use", "id": "t9", "name": "get_order", "input": {"id": 9}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "is_error": True,
                                      "content": [{"type": "text", "text": "order 9 not found"}]},
                                     {"type": "text", "text": "Also, can you hurry?"}]}])
    assert [s.kind for s in steps] == [StepKind.USER, StepKind.REASONING, StepKind.TOOL_CALL, StepKind.TOOL_RESULT,
                                       StepKind.USER]
    assert steps[1].content == "The user wants order 9." and steps[3].metadata == {"is_error": True}
    assert steps[3].content == "order 9 not found" and steps[4].content == "Also, can you hurry?"


def test_a_claude_tau_record_is_judged_like_a_tool_calling_one(tmp_path):
    records = [{"task_id": 1, "trial": t, "reward": r, "info": {}, "traj": [{"role": "system", "content": POLICY},
                                                                          *_claude_traj(answer)]}
               for t, (answer, r) in enumerate([("yes", 1.0), ("hmm, what else could I do?", 0.0)])]
    path = tmp_path / "claude-retail.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    confirmed, unconfirmed = read_file(path).traces
    assert verdict_of(confirmed, "FM-1.1").status is ModeStatus.ABSENT
    assert verdict_of(unconfirmed, "FM-1.1").status is ModeStatus.PRESENT
    assert verdict_of(confirmed, "FM-3.2").status is not ModeStatus.PRESENT  # the write's own record confirms it
