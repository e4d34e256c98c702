"""GenAI events in OTLP log exports, joined to the spans they belong to.

Instrumentations that capture content as events (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=
event_only`` in opentelemetry-instrumentation-openai-v2, OpenLLMetry with ``use_attributes=False``) write
log records beside the spans, each carrying the trace and span id of its model call:

* ``gen_ai.client.inference.operation.details`` (GenAI semantic conventions 1.37+): the call's
  ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` as attributes;
* the older per-message events ``gen_ai.system.message``, ``gen_ai.user.message``,
  ``gen_ai.assistant.message``, ``gen_ai.tool.message`` (body ``{content, tool_calls, id}``) and
  ``gen_ai.choice`` (body ``{index, finish_reason, message, tool_calls}``).

OTLP/JSON logs exports are ``{"resourceLogs": [{"resource", "scopeLogs": [{"scope", "logRecords": [...]}]}]}``;
the event name is ``eventName`` (OTLP 1.5) or the ``event.name`` attribute (older SDKs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mastlens.adapters.otel.conventions import unflatten
from mastlens.adapters.otel.spans import Span, any_value, attribute_map, normalize_id, to_ns

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                   "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
_CHOICE_EVENT = "gen_ai.choice"
_CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


@dataclass
class LogEvent:
    trace_id: str | None
    span_id: str | None
    name: str
    attributes: dict[str, Any]
    body: Any
    time_ns: int | None
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def is_genai(self) -> bool:
        return self.name == DETAILS_EVENT or self.name in _MESSAGE_EVENTS or self.name == _CHOICE_EVENT


def parse_logs(data: Any) -> list[LogEvent]:
    """The log records of an OTLP/JSON logs export (empty for any other document)."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceLogs"), list):
        return []
    events: list[LogEvent] = []
    for rl in data["resourceLogs"]:
        resource = attribute_map(((rl or {}).get("resource") or {}).get("attributes"))
        for sl in (rl or {}).get("scopeLogs") or []:
            for rec in (sl or {}).get("logRecords") or []:
                if not isinstance(rec, dict):
                    continue
                attributes = attribute_map(rec.get("attributes"))
                name = rec.get("eventName") or attributes.get("event.name") or ""
                events.append(LogEvent(
                    trace_id=normalize_id(rec.get("traceId")), span_id=normalize_id(rec.get("spanId")),
                    name=str(name), attributes=attributes, body=any_value(rec.get("body")),
                    time_ns=to_ns(rec.get("timeUnixNano") or rec.get("observedTimeUnixNano")), resource=resource))
    return events


def _message_from_body(role: str, body: Any) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {"content": body}
    message: dict[str, Any] = {"role": body.get("role") or role, "content": body.get("content")}
    if body.get("tool_calls"):
        message["tool_calls"] = body["tool_calls"]
    if role == "tool" and body.get("id"):
        message["tool_call_id"] = body["id"]
    return message


def _choice_message(body: Any) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {}
    inner = body.get("message") if isinstance(body.get("message"), dict) else {}
    message: dict[str, Any] = {"role": inner.get("role") or "assistant", "content": inner.get("content")}
    calls = body.get("tool_calls") or inner.get("tool_calls")
    if calls:
        message["tool_calls"] = calls
    return message


def event_attributes(events: list[LogEvent]) -> dict[str, Any]:
    """The GenAI content attributes a model-call span would carry, rebuilt from its events."""
    out: dict[str, Any] = {}
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for event in sorted(events, key=lambda e: e.time_ns or 0):
        if event.name == DETAILS_EVENT:
            out.update({k: v for k, v in event.attributes.items() if not any(k.startswith(c) for c in _CONTENT_KEYS)})
            for key in _CONTENT_KEYS:
                value = unflatten(event.attributes, key)
                if value is not None:
                    out[key] = value
        elif event.name in _MESSAGE_EVENTS:
            inputs.append(_message_from_body(_MESSAGE_EVENTS[event.name], event.body))
        elif event.name == _CHOICE_EVENT:
            outputs.append(_choice_message(event.body))
    if inputs and "gen_ai.input.messages" not in out:
        out["gen_ai.input.messages"] = inputs
    if outputs and "gen_ai.output.messages" not in out:
        out["gen_ai.output.messages"] = outputs
    return out


def join_events(spans: list[Span], events: list[LogEvent]) -> tuple[list[Span], int, list[LogEvent]]:
    """Spans with their GenAI events folded into their attributes (content the span itself lacks), and
    model-call spans made up for events whose span is not in the export. Returns (spans, events joined,
    events that name no span id)."""
    by_span: dict[tuple[str | None, str | None], list[LogEvent]] = {}
    loose: list[LogEvent] = []
    for event in events:
        if not event.is_genai:
            continue
        if not event.trace_id or not event.span_id:
            loose.append(event)
            continue
        by_span.setdefault((event.trace_id, event.span_id), []).append(event)
    joined = 0
    index = {(s.trace_id, s.span_id): s for s in spans}
    out = list(spans)
    for key, group in by_span.items():
        extra = event_attributes(group)
        span = index.get(key)
        if span is None:
            first = min(group, key=lambda e: e.time_ns or 0)
            span = Span(trace_id=key[0] or "", span_id=key[1] or "", parent_id=None, name="chat (from log events)",
                        start_ns=first.time_ns, end_ns=None, attributes={"gen_ai.operation.name": "chat"},
                        resource=first.resource, order=len(out))
            out.append(span)
        for k, v in extra.items():
            if not any(a == k or a.startswith(k + ".") for a in span.attributes):
                span.attributes[k] = v
        span.attributes.setdefault("gen_ai.operation.name", "chat")
        joined += len(group)
    return out, joined, loose
