"""OpenAI-style chat messages to steps (shared by the chat-log and tau-bench adapters).

A message has a ``role`` (system, developer, user, assistant, tool, legacy function), ``content`` as a
string, ``null`` or a list of content parts, and on assistant turns ``tool_calls`` (``{id, function:
{name, arguments}}``, arguments a JSON string) or a legacy ``function_call``. Tool results pair with
their call by ``tool_call_id``. Reasoning text some servers add (``reasoning_content``) becomes a
reasoning step. Anthropic-style content blocks are read too: an assistant's ``tool_use`` blocks (``{id, name,
input}``) are its tool calls and ``thinking`` blocks its reasoning; ``tool_result`` blocks in a user message
(``{tool_use_id, content, is_error}``) are tool results, and only the rest of that message is the user's.
"""

from __future__ import annotations

from typing import Any

from mastlens.adapters.codex.output import parse_arguments
from mastlens.adapters.steps import content_text
from mastlens.trace import Step, StepKind, renumber

_ROLE_KINDS = {"system": StepKind.SYSTEM, "developer": StepKind.SYSTEM, "user": StepKind.USER,
               "assistant": StepKind.ASSISTANT}
_ERROR_PREFIXES = ("error", "traceback", "exception")


class MessageError(ValueError):
    """A message that is not a chat message; the text says which and why."""


def looks_like_message(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("role"), str) and (
        "content" in obj or "tool_calls" in obj or "function_call" in obj)


def _blocks(content: Any, kind: str) -> list[dict[str, Any]]:
    return [p for p in content if isinstance(p, dict) and p.get("type") == kind] if isinstance(content, list) else []


def _rest(content: Any, *kinds: str) -> Any:
    """The content without its blocks of ``kinds``."""
    if not isinstance(content, list):
        return content
    return [p for p in content if not (isinstance(p, dict) and p.get("type") in kinds)]


def _tool_use_steps(msg: dict[str, Any], agent: str | None, ts: str | None, tools: dict[str, str]) -> list[Step]:
    steps = []
    for block in _blocks(msg.get("content"), "tool_use"):
        call_id = block.get("id") if isinstance(block.get("id"), str) else None
        name = block.get("name") if isinstance(block.get("name"), str) else None
        if name is None:
            raise MessageError("a tool_use block has no name")
        if call_id:
            tools[call_id] = name
        steps.append(Step(index=0, kind=StepKind.TOOL_CALL, agent=agent, tool=name, call_id=call_id,
                          arguments=block.get("input"), timestamp=ts))
    return steps


def _result_step(text: str, call_id: str | None, tool: str | None, ts: str | None, *, error: bool = False) -> Step:
    """A tool result: an error when the source marks it so or its text opens with an error word."""
    failed = error or text.lstrip().lower().startswith(_ERROR_PREFIXES)
    return Step(index=0, kind=StepKind.TOOL_RESULT, tool=tool, call_id=call_id, content=text, timestamp=ts,
                metadata={"is_error": True} if failed else {})


def _tool_result_steps(msg: dict[str, Any], ts: str | None, tools: dict[str, str]) -> list[Step]:
    steps = []
    for block in _blocks(msg.get("content"), "tool_result"):
        call_id = block.get("tool_use_id") if isinstance(block.get("tool_use_id"), str) else None
        steps.append(_result_step(content_text(block.get("content"), name_other_parts=True), call_id,
                                  tools.get(call_id or ""), ts, error=block.get("is_error") is True))
    return steps


def _call_steps(msg: dict[str, Any], agent: str | None, ts: str | None, tools: dict[str, str]) -> list[Step]:
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise MessageError("tool_calls is not a list")
    if isinstance(msg.get("function_call"), dict):
        calls = [*calls, {"function": msg["function_call"]}]
    steps = []
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise MessageError("a tool call has no function {name, arguments}")
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        name = fn.get("name") if isinstance(fn.get("name"), str) else None
        if call_id and name:
            tools[call_id] = name
        steps.append(Step(index=0, kind=StepKind.TOOL_CALL, agent=agent, tool=name, call_id=call_id,
                          arguments=parse_arguments(fn.get("arguments")), timestamp=ts))
    return steps


def message_steps(messages: list[Any]) -> list[Step]:
    """Steps for a list of chat messages, numbered from 0. Raises :class:`MessageError`."""
    steps: list[Step] = []
    tools: dict[str, str] = {}  # call id -> tool name, for results that do not repeat the name
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise MessageError(f"message {i} is not an object")
        role = msg.get("role")
        if not isinstance(role, str):
            raise MessageError(f"message {i} has no role")
        agent = msg.get("name") if isinstance(msg.get("name"), str) else None
        ts = msg.get("timestamp") if isinstance(msg.get("timestamp"), str) else None
        content = _rest(msg.get("content"), "tool_use", "tool_result", "thinking", "redacted_thinking")
        text = content_text(content, name_other_parts=True)
        try:
            results = _tool_result_steps(msg, ts, tools) if role == "user" else []
            if results:
                steps.extend(results)
                if text.strip():
                    steps.append(Step(index=0, kind=StepKind.USER, agent=agent, content=text, timestamp=ts))
                continue
            if role in ("tool", "function"):
                call_id = msg.get("tool_call_id") if isinstance(msg.get("tool_call_id"), str) else None
                steps.append(_result_step(text, call_id, tools.get(call_id or "") or agent, ts))
                continue
            if role == "assistant":
                reasoning = msg.get("reasoning_content") or msg.get("reasoning") or "\n".join(
                    str(b.get("thinking") or "") for b in _blocks(msg.get("content"), "thinking"))
                if isinstance(reasoning, str) and reasoning.strip():
                    steps.append(Step(index=0, kind=StepKind.REASONING, agent=agent, content=reasoning, timestamp=ts))
                calls = _call_steps(msg, agent, ts, tools) + _tool_use_steps(msg, agent, ts, tools)
                if text or not calls:
                    steps.append(Step(index=0, kind=StepKind.ASSISTANT, agent=agent, content=text, timestamp=ts))
                steps.extend(calls)
                continue
        except MessageError as exc:
            raise MessageError(f"message {i}: {exc}") from None
        kind = _ROLE_KINDS.get(role, StepKind.EVENT)
        meta = {} if role in _ROLE_KINDS else {"role": role}
        steps.append(Step(index=0, kind=kind, agent=agent, content=text, timestamp=ts, metadata=meta))
    return renumber(steps)
