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
    Message, agent_name, llm_messages, model_name, output_tokens, span_failed, span_kind, tool_span,
)
from mastlens.adapters.otel.grouping import Run, group_runs
from mastlens.adapters.otel.logs import LogEvent, join_events, parse_logs
from mastlens.adapters.otel.spans import Span, parse_spans
from mastlens.adapters.steps import StepBuilder, as_text
from mastlens.adapters.tool_results import reports_error
from mastlens.trace import Outcome, Source, Step, StepKind, Trace

_HEX_TRACE = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_LIST = re.compile(r'^\[\s*\{')
_SPAN_KEYS = re.compile(r'"(spanContext|spanId|span_id|parentSpanId|parent_id|parentObservationId)"\s*:')
_TRACE_KEYS = re.compile(r'"(traceId|trace_id|spanContext|context)"\s*:')
_ATTRIBUTE_KEY = re.compile(
    r'"(openinference\.span\.kind|llm\.(?:input|output)_messages\.\d|llm\.model_name|gen_ai\.operation\.name'
    r'|gen_ai\.(?:input|output)\.messages|gen_ai\.request\.model|gen_ai\.system'
    r'|gen_ai\.tool\.(?:name|call\.id|call\.arguments|call\.result))"\s*:')
_LANGFUSE = re.compile(r'"(parentObservationId|observationId)"\s*:|"type"\s*:\s*"(GENERATION|SPAN|EVENT)"')
_SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "traceloop.association.properties.session_id")
_REDACTED = "__REDACTED__"  # OpenInference's mask for hidden inputs and outputs
_NO_CONTENT_NOTE = ("content not captured: model calls were recorded without their messages (content capture "
                    "off, or sent as log events: give the logs export in the same ingest), so the rules "
                    "judge answers not assessed")


def _sniff_text(text: str) -> bool:
    window = text[:16000]
    if text.startswith("{") and ('"resourceSpans"' in window or '"resourceLogs"' in window):
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
        # how often each message appeared in one model call's history so far: a history that holds the same
        # message twice (three identical tool results without ids) has new copies beyond that count
        self.seen_messages: Counter = Counter()
        self.seen_calls: set[str] = set()
        self.seen_results: set[str] = set()
        self.unanswered: dict[str, list[str]] = {}  # tool name -> ids of calls still waiting for a result
        self.failed_calls: set[str] = set()
        self.result_texts: set[str] = set()  # ids of calls whose tool span failed (the result may come later)
        self.models: Counter = Counter()
        self.model_calls = 0
        self.silent_model_calls = 0  # model-call spans without any message content
        self.content_spans = 0  # model or tool spans that carried messages, arguments or results

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
            self.model_calls += 1
            inputs, outputs = llm_messages(span)
            if inputs or outputs:
                self.content_spans += 1
            else:
                self.silent_model_calls += 1
                self.builder.add(StepKind.EVENT, f"model call {model or ''} (content not captured)".replace("  ", " "),
                                 agent=agent, timestamp=ts, metadata={**meta, "event": "model_call"})
            here: Counter = Counter()
            for message in inputs:
                here[message.fingerprint()] += 1
                if here[message.fingerprint()] > self.seen_messages[message.fingerprint()]:
                    self._message(message, agent, meta, ts)
            last = None
            for message in outputs:
                here[message.fingerprint()] += 1
                last = self._message(message, agent, meta, ts) or last
            for fingerprint, count in here.items():
                self.seen_messages[fingerprint] = max(self.seen_messages[fingerprint], count)
            tokens = output_tokens(span)
            if last is not None and tokens is not None:
                last.tokens = tokens
        elif kind == "TOOL":
            call_id, name, args, result = tool_span(span)
            if args is not None or result is not None:
                self.content_spans += 1
            if not call_id and self.unanswered.get(name):  # a tool span that does not name the call it runs
                call_id = self.unanswered[name][0]
            self._call(call_id, name, args, agent, meta, ts)
            failed = span_failed(span)
            if failed and call_id:
                self.failed_calls.add(call_id)
            if result is not None:
                extra = {"is_error": True} if failed else {}
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
        if not call_id:  # a result that names no call (OpenLLMetry's tool message event) answers the oldest one
            waiting = self.unanswered.get(name or "") or next((w for w in self.unanswered.values() if w), [])
            if not waiting and content in self.result_texts:
                return None  # no call waits for it: the history restating a result a tool span gave already
            call_id = waiting[0] if waiting else None
            name = name or next((n for n, w in self.unanswered.items() if call_id in w), None)
        self.result_texts.add(content)
        if call_id:
            self.seen_results.add(call_id)
            for waiting in self.unanswered.values():
                if call_id in waiting:
                    waiting.remove(call_id)
        meta = dict(meta)
        if (call_id and call_id in self.failed_calls) or reports_error(content):
            meta["is_error"] = True
        return self.builder.result(content, call_id=call_id, tool=name, timestamp=ts, metadata=meta)


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
    description = (
        "OpenTelemetry spans and GenAI log events as JSON (OTLP/JSON traces and logs, hex or base64 ids; flat "
        "span exports; one-span attribute maps). Conventions: OpenInference (openinference.span.kind, llm.*, "
        "tool.*, session.id), OTel GenAI semantic conventions up to 1.37 (gen_ai.* span attributes, "
        "execute_tool / invoke_agent spans, gen_ai.client.inference.operation.details and the older "
        "gen_ai.*.message / gen_ai.choice events), OpenLLMetry traceloop.* decorator spans, Vercel AI SDK ai.*. "
        "Tested with openinference-instrumentation-openai 0.1.66, opentelemetry-instrumentation-openai-v2 2.4b0 "
        "(util-genai 1.1b0) and traceloop-sdk 0.62.4 in span_only, event_only and no-content modes. A traces "
        "file and a logs file given in one ingest are joined by trace and span id; model calls with no parent "
        "span are grouped into runs by session.id / gen_ai.conversation.id or --group-spans-by KEY")
    detects = ('{"resourceSpans": ...} and/or {"resourceLogs": ...} (or one per line, as the collector\'s file '
               "exporter writes); a list of spans with trace/span ids and attributes, or of Langfuse observations "
               '(either may be wrapped in {"data": [...]}); a flat map of openinference.* / llm.* / gen_ai.* span '
               "attributes, including a single execute_tool span")
    outcome = "none: spans carry no run result (success unknown)"
    priority = 30
    extensions = (".json", ".jsonl", ".ndjson")

    def sniff(self, path: Path, head: bytes) -> bool:
        return _sniff_text(head_text(head))

    def load(self, path: Path) -> tuple[list[Span], list[LogEvent]]:
        """The spans and log events of one file (raises AdapterError with the line of a bad record)."""
        spans: list[Span] = []
        events: list[LogEvent] = []
        if trace_suffix(path) in (".jsonl", ".ndjson"):
            for lineno, obj in iter_jsonl(path):
                try:
                    found = parse_spans(obj, trace_stem(path))
                except AdapterError as exc:
                    raise AdapterError(exc.reason, line=lineno) from None
                for span in found:
                    span.order = len(spans)
                    spans.append(span)
                events += parse_logs(obj)
        else:
            data = load_json(path)
            spans = parse_spans(data, trace_stem(path))
            events = parse_logs(data)
        for span in spans:
            hidden = [k for k, v in span.attributes.items() if v == _REDACTED]
            for key in hidden:
                del span.attributes[key]
        if not spans and not events:
            raise AdapterError("no spans in this file")
        return spans, events

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        spans, events = self.load(path)
        for _, trace in self.read_joined([(path, spans, events)], ctx):
            yield trace

    def read_joined(self, parts: list[tuple[Path, list[Span], list[LogEvent]]],
                    ctx: ReadContext) -> Iterator[tuple[Path, Trace]]:
        """Traces from several loaded files at once: log events join the spans of any of the files by trace
        and span id. Each trace is attributed to the file holding its spans (else its events)."""
        home: dict[str, Path] = {}
        spans: list[Span] = []
        events: list[LogEvent] = []
        for path, file_spans, file_events in parts:
            for span in file_spans:
                home.setdefault(span.trace_id, path)
                span.order = len(spans)
                spans.append(span)
            for event in file_events:
                if event.trace_id:
                    home.setdefault(event.trace_id, path)
            events += file_events
        spans, joined, loose = join_events(spans, events)
        log_files = {str(p) for p, _, e in parts if e}
        if joined and len(parts) > 1:
            ctx.notes.append(f"{joined} GenAI log event(s) from {', '.join(sorted(log_files))} joined to their spans")
        if loose:
            ctx.notes.append(f"{len(loose)} GenAI log event(s) carry no trace/span id and could not be joined")
        runs, notes = group_runs(spans, ctx.group_spans_by)
        ctx.notes.extend(notes)
        silent = 0
        for run in runs:
            trace = self._trace(home.get(run.trace_ids[0], parts[0][0]), run, ctx)
            if trace is None:
                names = ", ".join(sorted({s.name or "unnamed" for s in run.spans}))
                ctx.notes.append(f"trace {run.id} has no messages or tool calls (spans: {names}); skipped")
            else:
                silent += trace.metadata.get("content_captured") is False
                yield Path(trace.source.path), trace
        if silent:
            ctx.notes.append(f"{silent} trace(s): {_NO_CONTENT_NOTE}")

    def _trace(self, path: Path, run: Run, ctx: ReadContext) -> Trace | None:
        spans = run.spans
        tb = _TraceBuilder(spans)
        ordered = sorted(spans, key=lambda s: (s.start_ns is None, s.start_ns or 0, _depth(s, tb.by_id), s.order))
        for span in ordered:
            tb.add_span(span)
        steps = tb.builder.steps
        # what the model said must be there to judge a run: one model call without content is enough to say no
        captured = tb.silent_model_calls == 0 and (
            tb.content_spans > 0 or not (tb.model_calls or any(s.kind is StepKind.TOOL_CALL for s in steps)))
        kinds = (StepKind.USER, StepKind.ASSISTANT, StepKind.TOOL_CALL, StepKind.TOOL_RESULT)
        if not any(s.kind in kinds or (not captured and s.kind is StepKind.EVENT) for s in steps):
            return None
        roots = [s for s in ordered if not s.parent_id or s.parent_id not in tb.by_id]
        resource = next((s.resource for s in spans if s.resource), {})
        session = next((s.attributes[k] for s in spans for k in _SESSION_KEYS if s.attributes.get(k)), None)
        trace_ids = [t for t in run.trace_ids if _HEX_TRACE.match(t)]
        otel: dict[str, Any] = {"trace_id": trace_ids[0] if len(trace_ids) == 1 else None,
                                "trace_ids": trace_ids if len(trace_ids) > 1 else None,
                                "grouped_by": run.grouped_by if len(run.trace_ids) > 1 else None,
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
        if not captured:
            metadata["content_captured"] = False
            metadata["notes"] = [_NO_CONTENT_NOTE]
        if captured and _ends_waiting_for_a_tool(steps):
            metadata["incomplete_run"] = True  # a model call that asked for a tool: not a finished run
        return Trace(
            id=run.id, source=Source(format=self.name, path=str(path)),
            system=resource.get("service.name"), model=tb.models.most_common(1)[0][0] if tb.models else None,
            steps=steps, outcome=ctx.success_rule.apply(Outcome()), metadata=metadata,
        )


def _ends_waiting_for_a_tool(steps: list[Step]) -> bool:
    """The last thing the run did was ask for a tool call whose result it never saw."""
    for step in reversed(steps):
        if step.kind is StepKind.TOOL_CALL:
            return True
        if step.kind in (StepKind.TOOL_RESULT, StepKind.ASSISTANT, StepKind.USER):
            return False
    return False


ADAPTER = OtelAdapter()
