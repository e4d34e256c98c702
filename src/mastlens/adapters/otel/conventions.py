"""What one span says, under the attribute conventions agents are traced with.

* OpenInference (``openinference.span.kind`` LLM / TOOL / AGENT / CHAIN..., ``llm.input_messages.N.message.*``,
  ``llm.output_messages.N.message.*``, ``tool.name``, ``input.value`` / ``output.value``, ``session.id``);
* OTel GenAI semantic conventions (``gen_ai.operation.name``, ``gen_ai.agent.name``, ``gen_ai.tool.name``,
  ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` with typed parts,
  ``gen_ai.usage.*``; the older indexed ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` too);
* the Vercel AI SDK's own ``ai.*`` keys (``ai.prompt``, ``ai.prompt.messages``, ``ai.response.text``,
  ``ai.response.toolCalls``, ``ai.toolCall.*``), which its spans carry beside ``gen_ai.*`` usage;
* OpenLLMetry (traceloop-sdk) decorator spans: ``traceloop.span.kind`` agent / tool / workflow / task,
  ``traceloop.entity.name``, ``traceloop.entity.input`` (``{"args": [...], "kwargs": {...}}``) and
  ``traceloop.entity.output``.

A message's content is text: a content string that happens to be JSON (a tool's ``{"ok": false}``) is kept
as written; only a list of typed parts is read as parts.

Messages come out in one shape, :class:`Message`, whatever convention wrote them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mastlens.adapters.otel.spans import Span
from mastlens.adapters.steps import as_text

LLM_OPERATIONS = {"chat", "text_completion", "generate_content", "completion"}
AGENT_OPERATIONS = {"invoke_agent", "create_agent"}
TOOL_OPERATIONS = {"execute_tool"}
_VERCEL_TOOL = "ai.toolCall"
_TRACELOOP_KINDS = {"agent": "AGENT", "tool": "TOOL"}


@dataclass
class Message:
    role: str
    text: str = ""
    reasoning: list[str] = field(default_factory=list)
    calls: list[tuple[str | None, str | None, Any]] = field(default_factory=list)  # (id, name, arguments)
    results: list[tuple[str | None, str | None, str]] = field(default_factory=list)  # (id, name, content)

    def fingerprint(self) -> tuple:
        return (self.role, " ".join(self.text.split()), tuple(c[0] or c[1] for c in self.calls),
                tuple(r[0] or r[2][:200] for r in self.results))

    @property
    def empty(self) -> bool:
        return not (self.text or self.reasoning or self.calls or self.results)


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def unflatten(attrs: dict[str, Any], prefix: str) -> Any:
    """``prefix`` as a structure: its own value (JSON strings parsed) or rebuilt from dotted sub-keys,
    numeric segments becoming list positions."""
    if prefix in attrs:
        return _json(attrs[prefix])
    root: dict[Any, Any] = {}
    start = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        node = root
        parts = [int(p) if p.isdigit() else p for p in key[len(start):].split(".")]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _listify(root) if root else None


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(isinstance(k, int) for k in items):
        return [items[k] for k in sorted(items)]
    return items


def to_message(raw: Any, default_role: str = "user") -> Message | None:
    """One message of any convention: OpenAI-style content and tool_calls, GenAI ``parts``, Vercel content
    parts, OpenInference ``contents`` / nested ``tool_call`` objects."""
    if isinstance(raw, dict) and isinstance(raw.get("message"), dict):
        raw = raw["message"]
    if isinstance(raw, str):
        return Message(default_role, raw)
    if not isinstance(raw, dict):
        return None
    msg = Message(str(raw.get("role") or default_role))
    texts: list[str] = []
    content = raw.get("content")
    parsed = _json(content)
    if isinstance(parsed, list) and parsed and all(isinstance(p, dict) and "type" in p for p in parsed):
        content = parsed  # a JSON list of typed parts written as a string
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, dict):
        texts.append(json.dumps(content, ensure_ascii=False))
    parts = list(raw["parts"] if isinstance(raw.get("parts"), list) else content if isinstance(content, list) else [])
    for c in raw.get("contents") or []:
        parts.append(c.get("message_content", c) if isinstance(c, dict) else c)
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            texts.append(as_text(part.get("text", part.get("content"))))
        elif kind in ("reasoning", "thinking"):
            msg.reasoning.append(as_text(part.get("content", part.get("text", part.get("reasoning")))))
        elif kind in ("tool_call", "tool-call", "function_call"):
            msg.calls.append((part.get("id") or part.get("toolCallId"), part.get("name") or part.get("toolName"),
                              _json(part.get("arguments", part.get("input", part.get("args"))))))
        elif kind in ("tool_call_response", "tool-result", "tool_result"):
            msg.results.append((part.get("id") or part.get("toolCallId"), part.get("toolName"),
                                as_text(_json(part.get("response", part.get("output", part.get("result")))))))
    for call in raw.get("tool_calls") or []:
        call = call.get("tool_call", call) if isinstance(call, dict) else {}
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        msg.calls.append((call.get("id"), fn.get("name") or call.get("name"),
                          _json(fn.get("arguments", call.get("arguments")))))
    text = "\n".join(t for t in texts if t)
    if msg.role == "tool" and text and not msg.results:
        msg.results.append((raw.get("tool_call_id"), raw.get("name"), text))
    else:
        msg.text = text
    return msg


def _messages(value: Any, default_role: str) -> list[Message]:
    items = value if isinstance(value, list) else [value] if value else []
    return [m for m in (to_message(v, default_role) for v in items) if m is not None and not m.empty]


def span_kind(span: Span) -> str:
    """LLM, TOOL, AGENT, EMBEDDING or OTHER, whichever convention says so."""
    a = span.attributes
    oi = str(a.get("openinference.span.kind") or "").upper()
    op = str(a.get("gen_ai.operation.name") or "")
    vercel = str(a.get("ai.operationId") or "")
    traceloop = str(a.get("traceloop.span.kind") or "")
    if oi:
        return oi if oi in ("LLM", "TOOL", "AGENT", "EMBEDDING") else "OTHER"
    if traceloop and not op:
        return _TRACELOOP_KINDS.get(traceloop, "OTHER")
    if op in LLM_OPERATIONS:
        return "LLM"
    if op in TOOL_OPERATIONS or vercel == _VERCEL_TOOL:
        return "TOOL"
    if op in AGENT_OPERATIONS:
        return "AGENT"
    if op == "embeddings" or vercel.startswith("ai.embed"):
        return "EMBEDDING"
    if vercel.startswith(("ai.generate", "ai.stream")):
        return "LLM"
    return "OTHER"


def agent_name(span: Span) -> str | None:
    a = span.attributes
    return (a.get("gen_ai.agent.name") or a.get("agent.name") or a.get("traceloop.entity.name") or span.name
            or None)


def llm_messages(span: Span) -> tuple[list[Message], list[Message]]:
    """(input messages, output messages) of an LLM span."""
    a = span.attributes
    inputs = _messages(unflatten(a, "llm.input_messages"), "user")
    outputs = _messages(unflatten(a, "llm.output_messages"), "assistant")
    if not inputs and not outputs:
        system = unflatten(a, "gen_ai.system_instructions")
        inputs = [Message("system", m.text) for m in _messages(system, "system")] if system else []
        inputs += _messages(unflatten(a, "gen_ai.input.messages") or unflatten(a, "gen_ai.prompt"), "user")
        outputs = _messages(unflatten(a, "gen_ai.output.messages") or unflatten(a, "gen_ai.completion"),
                            "assistant")
    if not inputs and not outputs:
        inputs, outputs = _vercel_messages(a)
    if not inputs and not outputs:
        inputs, outputs = _value_messages(a)
    return inputs, outputs


def _vercel_messages(a: dict[str, Any]) -> tuple[list[Message], list[Message]]:
    prompt = unflatten(a, "ai.prompt.messages")
    inputs = _messages(prompt, "user")
    if not inputs:
        wrapper = unflatten(a, "ai.prompt")
        if isinstance(wrapper, dict):
            if wrapper.get("system"):
                inputs.append(Message("system", as_text(wrapper["system"])))
            inputs += _messages(wrapper.get("messages") or wrapper.get("prompt"), "user")
    out = Message("assistant", as_text(a.get("ai.response.text") or a.get("ai.response.object") or ""))
    for call in _json(a.get("ai.response.toolCalls")) or []:
        if isinstance(call, dict):
            out.calls.append((call.get("toolCallId"), call.get("toolName"),
                              _json(call.get("input", call.get("args")))))
    return inputs, [] if out.empty else [out]


def _value_messages(a: dict[str, Any]) -> tuple[list[Message], list[Message]]:
    """OpenInference's generic ``input.value`` / ``output.value`` when no structured messages exist: a
    message list (or ``{"messages": [...]}``), one message object, or plain text."""
    value_in, value_out = _json(a.get("input.value")), _json(a.get("output.value"))
    if isinstance(value_in, dict) and isinstance(value_in.get("messages"), list):
        value_in = value_in["messages"]
    if isinstance(value_out, dict) and not ({"role", "content", "parts", "tool_calls"} & value_out.keys()):
        value_out = value_out.get("text", value_out)
    inputs = _messages(value_in if isinstance(value_in, (list, dict)) else as_text(value_in), "user")
    outputs = _messages(value_out if isinstance(value_out, (list, dict)) else as_text(value_out), "assistant")
    return inputs, outputs


def tool_span(span: Span) -> tuple[str | None, str | None, Any, str | None]:
    """(call id, tool name, arguments, result) of a tool span."""
    a = span.attributes
    name = (a.get("tool.name") or a.get("gen_ai.tool.name") or a.get("ai.toolCall.name")
            or a.get("traceloop.entity.name") or span.name)
    call_id = a.get("tool_call.id") or a.get("gen_ai.tool.call.id") or a.get("ai.toolCall.id")
    # OpenInference keeps the call's arguments in input.value (tool.parameters is the tool's schema)
    args = _first_present(a, "gen_ai.tool.call.arguments", "ai.toolCall.args", "input.value")
    result = _first_present(a, "output.value", "gen_ai.tool.call.result", "ai.toolCall.result",
                            "traceloop.entity.output")
    if args is None and "traceloop.entity.input" in a:
        args = _traceloop_arguments(_json(a["traceloop.entity.input"]))
    return call_id, name, _json(args), None if result is None else _result_text(_json(result))


def _first_present(a: dict[str, Any], *keys: str) -> Any:
    """The first key's value, rebuilt from dotted sub-keys when a nested attribute map was flattened."""
    for key in keys:
        value = unflatten(a, key)
        if value is not None:
            return value
    return None


def _traceloop_arguments(entity_input: Any) -> Any:
    """OpenLLMetry's ``{"args": [...], "kwargs": {...}}``: the keyword arguments, else the positional ones."""
    if isinstance(entity_input, dict) and ("kwargs" in entity_input or "args" in entity_input):
        kwargs, args = entity_input.get("kwargs") or {}, entity_input.get("args") or []
        if kwargs and not args:
            return kwargs
        if args and not kwargs:
            return args[0] if len(args) == 1 else args
        return {"args": args, **kwargs} if kwargs or args else None
    return entity_input


def _result_text(result: Any) -> str:
    """A tool result as text; structured results are written as JSON, never dropped."""
    if isinstance(result, (dict, list)):
        return json.dumps(result, ensure_ascii=False)
    text = as_text(result)
    if len(text) >= 2 and text[0] == text[-1] == '"':  # OpenLLMetry writes a string result JSON-encoded
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def span_failed(span: Span) -> bool:
    """A span that ended in failure: status ERROR, an ``error.type`` attribute or an ``exception`` event."""
    return (span.is_error or bool(span.attributes.get("error.type"))
            or any(e.get("name") == "exception" for e in span.events))


def output_tokens(span: Span) -> int | None:
    a = span.attributes
    for key in ("llm.token_count.completion", "gen_ai.usage.output_tokens", "ai.usage.completionTokens",
                "ai.usage.outputTokens"):
        if isinstance(a.get(key), int) and not isinstance(a.get(key), bool):
            return a[key]
    return None


def model_name(span: Span) -> str | None:
    a = span.attributes
    return (a.get("llm.model_name") or a.get("gen_ai.response.model") or a.get("gen_ai.request.model")
            or a.get("ai.model.id") or None)
