"""tau-bench's ReAct and Act agents keep their tool use in plain text, not in tool-call fields.

Each assistant message ends with ``Action:`` and a JSON object ``{"name": ..., "arguments": {...}}`` (a ReAct
message opens with ``Thought:``); the environment's answer to a tool action comes back as the next user message,
``API output: ...``; the ``respond`` action's ``arguments.content`` is what the agent said to the user. An action
that is not valid JSON was sent to the user as it stands. :func:`as_tool_messages` rewrites such a trajectory into
chat messages with tool calls and tool results, so it reads like a tool-calling agent's.
"""

from __future__ import annotations

import json
from typing import Any

ACTION = "Action:"
THOUGHT = "Thought:"
RESPOND = "respond"
OBSERVATION = "API output: "


def _action(content: str) -> tuple[str, dict[str, Any] | None, str]:
    """(thought, the parsed action or None, the action's text) of a ReAct/Act message."""
    head, _, tail = content.rpartition(ACTION)
    thought = head.strip()
    if thought.startswith(THOUGHT):
        thought = thought[len(THOUGHT):].strip()
    text = tail.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return thought, None, text
    if not isinstance(parsed, dict) or not isinstance(parsed.get("name"), str) or "arguments" not in parsed:
        return thought, None, text
    return thought, parsed, text


def is_react(messages: list[Any]) -> bool:
    """Whether a trajectory is a ReAct/Act agent's: no tool-call fields, and an assistant message whose action
    parses."""
    dicts = [m for m in messages if isinstance(m, dict)]
    if any(m.get("tool_calls") or m.get("role") in ("tool", "function") for m in dicts):
        return False
    return any(m.get("role") == "assistant" and isinstance(content := m.get("content"), str) and ACTION in content
               and _action(content)[1] is not None for m in dicts)


def as_tool_messages(messages: list[Any]) -> list[Any]:
    """The trajectory with each tool action an assistant tool call (its thought as ``reasoning_content``), the
    ``API output`` after it that call's tool result, and each ``respond`` action the assistant's words."""
    out: list[Any] = []
    pending: tuple[str, str] | None = None  # (call id, tool) of the action the next user message answers
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            out.append(message)
            pending = None
            continue
        role, content = message.get("role"), message["content"]
        if role == "user" and pending is not None and content.startswith(OBSERVATION):
            call_id, tool = pending
            out.append({"role": "tool", "tool_call_id": call_id, "name": tool, "content": content[len(OBSERVATION):]})
            pending = None
            continue
        pending = None
        if role != "assistant" or ACTION not in content:
            out.append(message)
            continue
        thought, action, text = _action(content)
        extra = {"reasoning_content": thought} if thought else {}
        if action is None or action["name"] == RESPOND:
            said = action["arguments"].get("content") if action is not None and isinstance(
                action["arguments"], dict) else None
            out.append({**message, "content": said if isinstance(said, str) else text, **extra})
            continue
        call_id = f"react-{i}"
        arguments = action["arguments"]
        out.append({"role": "assistant", "content": None, **extra, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": action["name"], "arguments": json.dumps(arguments)}}]})
        pending = (call_id, action["name"])
    return out
