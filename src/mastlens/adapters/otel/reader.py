"""OpenTelemetry spans as JSON: OTLP/JSON exports, flat span lists (Phoenix, Vercel AI SDK and other
exporters), Langfuse observation exports, one-span attribute maps, and OTLP file-exporter JSONL (one
export per line).

Span shapes are read by :mod:`mastlens.adapters.otel.spans`, attribute conventions (OpenInference, OTel
GenAI, Vercel ``ai.*``) by :mod:`mastlens.adapters.otel.conventions`. One trace per trace id, steps in
span start order. LLM spans repeat the conversation so far, so a message already seen in the trace is
not repeated; a tool call named in an LLM output and executed in a TOOL span is one call. Each step
keeps its span (``span_id``, ``parent_span_id``, ``span_name``, ``span_kind``) in its metadata, the
agent is the nearest AGENT span above it, and the trace keeps its OTel ids in ``metadata["otel"]``
(the OTel export of labels links back to them). A trace with no messages or tool calls (embeddings
only) is skipped with a note.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, iter_jsonl, load_json, trace_stem, trace_suffix
from mastlens.adapters.otel.conventions import (
    Message, agent_name, llm_messages, model_name, output_tokens, span_kind, tool_span,
)
from mastlens.adapters.otel.spans import Span, parse_spans
from mastlens.adapters.steps import StepBuilder, as_text
from mastlens.trace import Outcome, Source, Step, StepKind, Trace

_HEX_TRACE = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_LIST = re.compile(r'^\[\s*\{')
_SPAN_KEYS = re.compile(r'"(spanContext|spanId|span_id|parentSpanId|parent_id|parentObservationId)"\s*:')
_TRACE_KEYS = re.compile(r'"(traceId|trace_id|spanContext|context)"\s*:')
_ATTRIBUTE_KEY = re.compile(
    r'"(openinference\.span\.kind|llm\.(?:input|output)_messages\.\d|llm\.model_name|gen_ai\.operation\.name'
    r'|gen_ai\.(?:input|output)\.messages|gen_ai\.request\.model|gen_ai\.system)"\s*:')
_LANGFUSE = re.compile(r'"(parentObservationId|observationId)"\s*:|"type"\s*:\s*"(GENERATION|SPAN|EVENT)"')
_SESSION_KEYS = ("session.id", "gen_ai.conversation.id")


def _sniff_text(text: str) -> bool:
    window = text[:16000]
    if text.startswith("{") and '"resourceSpans"' in window:
        return True
    spans = _SPAN_KEYS.search(window) and _TRACE_KEYS.search(window) and (
        '"attributes"' in window or _LANGFUSE.search(window))
    if spans and (_SPAN_LIST.match(text) or re.match(r'^\{\s*"(data|spans)"\s*:\s*\[', text)):
        return True
    return text.startswith("{") and len(set(_ATTRIBUTE_KEY.findall(window))) >= 2 and '"steps"' not in window


class _TraceBuilder:
    """Steps of one OTel trace, in span order, without the repeats LLM spans carry."""

    def __init__(self, spans: list[Span]):
        self.by_id = {s.span_id: s for s in spans if s.span_id}
        self.builder = StepBuilder()
        self.seen_messages: set[tuple] = set()
        self.seen_calls: set[str] = set()
        self.seen_results: set[str] = set()
        self.unanswered: dict[str, list[str]] = {}  # tool name -> ids of calls still waiting for a result
        self.models: Counter = Counter()

    def _ancestors(self, span: Span) -> Iterator[Span]:
        hops, current = 0, span
        while current is not None and hops < 1000:
            yield current
            current = self.by_id.get(current.parent_id) if current.parent_id else None
            hops += 1

    def _agent(self, span: Span) -> str | None:
        for s in self._ancestors(span):
            if span_kind(s) == "AGENT":
                return agent_name(s)
        return None

    def add_span(self, span: Span) -> None:
        kind = span_kind(span)
        agent = self._agent(span)
        meta = {"span_id": span.span_id or None, "parent_span_id": span.parent_id, "span_name": span.name,
                "span_kind": kind}
        meta = {k: v for k, v in meta.items() if v}
        ts = span.timestamp
        if kind == "LLM":
            model = model_name(span)
            if model:
                self.models[model] += 1
            inputs, outputs = llm_messages(span)
            for message in inputs:
                if message.fingerprint() not in self.seen_messages:
                    self.seen_messages.add(message.fingerprint())
                    self._message(message, agent, meta, ts)
            last = None
            for message in outputs:
                self.seen_messages.add(message.fingerprint())
                last = self._message(message, agent, meta, ts) or last
            tokens = output_tokens(span)
            if last is not None and tokens is not None:
                last.tokens = tokens
        elif kind == "TOOL":
            call_id, name, args, result = tool_span(span)
            if not call_id and self.unanswered.get(name):  # a tool span that does not name the call it runs
                call_id = self.unanswered[name][0]
            self._call(call_id, name, args, agent, meta, ts)
            if result is not None:
                extra = {"is_error": True} if span.is_error else {}
                self._result(call_id, name, result, {**meta, **extra}, ts)
        if span.is_error:
            self.builder.add(StepKind.ERROR, _error_text(span), agent=agent, timestamp=ts, metadata=dict(meta))

    def _message(self, m: Message, agent: str | None, meta: dict[str, Any], ts: str | None) -> Step | None:
        last = None
        if m.role in ("system", "developer"):
            last = self.builder.add(StepKind.SYSTEM, m.text, timestamp=ts, metadata=dict(meta))
        elif m.role in ("user", "human"):
            last = self.builder.add(StepKind.USER, m.text, agent="user", timestamp=ts, metadata=dict(meta))
        elif m.role != "tool":
            who = agent or "assistant"
            for thought in m.reasoning:
                last = self.builder.add(StepKind.REASONING, thought, agent=who, timestamp=ts, metadata=dict(meta))
            if m.text:
                last = self.builder.add(StepKind.ASSISTANT, m.text, agent=who, timestamp=ts, metadata=dict(meta))
            for call_id, name, args in m.calls:
                last = self._call(call_id, name, args, who, meta, ts) or last
        for call_id, name, content in m.results:
            last = self._result(call_id, name, content, meta, ts) or last
        return last

    def _call(self, call_id: str | None, name: str | None, args: Any, agent: str | None,
              meta: dict[str, Any], ts: str | None) -> Step | None:
        if call_id and call_id in self.seen_calls:
            return None
        if call_id:
            self.seen_calls.add(call_id)
            self.unanswered.setdefault(name or "", []).append(call_id)
        return self.builder.call(name, args, call_id, agent=agent, timestamp=ts, metadata=dict(meta))

    def _result(self, call_id: str | None, name: str | None, content: str, meta: dict[str, Any],
                ts: str | None) -> Step | None:
        if call_id and call_id in self.seen_results:
            return None
        if call_id:
            self.seen_results.add(call_id)
            for waiting in self.unanswered.values():
                if call_id in waiting:
                    waiting.remove(call_id)
        return self.builder.result(content, call_id=call_id, tool=name, timestamp=ts, metadata=dict(meta))


def _error_text(span: Span) -> str:
    for event in span.events:
        if event.get("name") == "exception":
            attrs = event.get("attributes") or {}
            return as_text(attrs.get("exception.message") or attrs.get("exception.type") or "exception")
    return as_text(span.status.get("message") or f"span {span.name} ended with an error")


def _depth(span: Span, by_id: dict[str, Span]) -> int:
    depth, current = 0, span
    while current.parent_id and current.parent_id in by_id and depth < 1000:
        current, depth = by_id[current.parent_id], depth + 1
    return depth


class OtelAdapter(Adapter):
    name = "otel"
    description = "OpenTelemetry spans as JSON (OTLP/JSON, flat span exports, one-span attribute maps) " \
                  "with OpenInference, OTel GenAI or Vercel AI SDK attributes"
    detects = ('{"resourceSpans": ...}; a list of spans with trace/span ids and attributes, or of Langfuse '
               'observations (either may be wrapped in {"data": [...]}); a flat map of openinference.* / llm.* / '
               "gen_ai.* span attributes")
    outcome = "none: spans carry no run result (success unknown)"
    priority = 30
    extensions = (".json", ".jsonl", ".ndjson")

    def sniff(self, path: Path, head: bytes) -> bool:
        return _sniff_text(head_text(head))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        if trace_suffix(path) in (".jsonl", ".ndjson"):
            spans: list[Span] = []
            for lineno, obj in iter_jsonl(path):
                try:
                    found = parse_spans(obj, trace_stem(path))
                except AdapterError as exc:
                    raise AdapterError(exc.reason, line=lineno) from None
                for span in found:
                    span.order = len(spans)
                    spans.append(span)
        else:
            spans = parse_spans(load_json(path), trace_stem(path))
        groups: dict[str, list[Span]] = {}
        for span in spans:
            groups.setdefault(span.trace_id, []).append(span)
        if not groups:
            raise AdapterError("no spans in this file")
        for trace_id, members in groups.items():
            trace = self._trace(path, trace_id, members, ctx)
            if trace is None:
                names = ", ".join(sorted({s.name or "unnamed" for s in members}))
                ctx.notes.append(f"trace {trace_id} has no messages or tool calls (spans: {names}); skipped")
            else:
                yield trace

    def _trace(self, path: Path, trace_id: str, spans: list[Span], ctx: ReadContext) -> Trace | None:
        tb = _TraceBuilder(spans)
        ordered = sorted(spans, key=lambda s: (s.start_ns is None, s.start_ns or 0, _depth(s, tb.by_id), s.order))
        for span in ordered:
            tb.add_span(span)
        steps = tb.builder.steps
        if not any(s.kind in (StepKind.USER, StepKind.ASSISTANT, StepKind.TOOL_CALL, StepKind.TOOL_RESULT)
                   for s in steps):
            return None
        roots = [s for s in ordered if not s.parent_id or s.parent_id not in tb.by_id]
        resource = next((s.resource for s in spans if s.resource), {})
        session = next((s.attributes[k] for s in spans for k in _SESSION_KEYS if s.attributes.get(k)), None)
        otel = {"trace_id": trace_id if _HEX_TRACE.match(trace_id) else None,
                "root_span_id": roots[0].span_id if roots and roots[0].span_id else None,
                "root_span_name": roots[0].name if roots else None, "spans": len(spans)}
        metadata: dict[str, Any] = {"otel": {k: v for k, v in otel.items() if v is not None}}
        if session:
            metadata["session_id"] = session
        agents = list(dict.fromkeys(agent_name(s) for s in ordered if span_kind(s) == "AGENT" and agent_name(s)))
        if agents:
            metadata["agents"] = agents  # in order of appearance
        if len(tb.models) > 1:
            metadata["models"] = dict(tb.models)
        return Trace(
            id=trace_id, source=Source(format=self.name, path=str(path)),
            system=resource.get("service.name"), model=tb.models.most_common(1)[0][0] if tb.models else None,
            steps=steps, outcome=ctx.success_rule.apply(Outcome()), metadata=metadata,
        )


ADAPTER = OtelAdapter()
