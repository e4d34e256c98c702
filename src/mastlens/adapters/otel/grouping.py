"""Which spans make one run.

A span tree with a common root (an agent, chain or tool span holding the model calls) is one run: one
OTel trace id. Auto-instrumented model calls with no parent span each get a trace id of their own, so
those lone calls are joined into runs by the session they carry: ``session.id`` (OpenInference),
``gen_ai.conversation.id`` (GenAI semantic conventions), OpenLLMetry's
``traceloop.association.properties.session_id``, or the attribute the user names (``--group-spans-by
KEY``, which then groups every trace id, rooted or not). Lone calls with no such attribute stay one trace
each, with a note saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mastlens.adapters.otel.conventions import llm_messages, span_kind
from mastlens.adapters.otel.spans import Span

SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "traceloop.association.properties.session_id")
_MODEL_KINDS = ("LLM", "EMBEDDING")


@dataclass
class Run:
    id: str
    spans: list[Span]
    trace_ids: list[str] = field(default_factory=list)
    grouped_by: str | None = None  # the attribute that joined several trace ids
    lone: bool = False  # model calls with nothing tying them to a run


def _is_lone(spans: list[Span]) -> bool:
    """Only model-call roots: no agent, chain or tool span holds the calls together."""
    ids = {s.span_id for s in spans if s.span_id}
    roots = [s for s in spans if not s.parent_id or s.parent_id not in ids]
    return bool(roots) and all(span_kind(s) in _MODEL_KINDS for s in roots)


def _value(spans: list[Span], keys: tuple[str, ...]) -> tuple[str, str] | None:
    for key in keys:
        for span in spans:
            value = span.attributes.get(key)
            if value not in (None, ""):
                return key, str(value)
    return None


def _conversation(spans: list[Span]) -> tuple[list[tuple], list[tuple]] | None:
    """(input, output) message fingerprints of a lone trace of one model call, or None when it has no content
    to chain by."""
    calls = [s for s in spans if span_kind(s) == "LLM"]
    if len(calls) != 1:
        return None
    inputs, outputs = llm_messages(calls[0])
    if not inputs or not outputs:
        return None
    return [m.fingerprint() for m in inputs], [m.fingerprint() for m in outputs]


def _start(spans: list[Span]) -> int:
    return min((s.start_ns for s in spans if s.start_ns is not None), default=0)


def _chain(lone: list[Run], members: dict[str, list[Span]]) -> list[Run]:
    """Lone single-call runs joined where one call's input continues another's input and output; the tail of a
    chain takes at most one successor (the longest history that fits, ties to the latest)."""
    runs: list[Run] = []
    tails: list[tuple[Run, list[tuple]]] = []  # open chains: the run and the history its last call ended with
    for run in sorted(lone, key=lambda r: (_start(members[r.id]), r.spans[0].order)):
        talk = _conversation(members[run.id])
        if talk is None:
            runs.append(run)
            continue
        inputs, outputs = talk
        best = None
        for i, (_, history) in enumerate(tails):
            if len(inputs) >= len(history) and inputs[:len(history)] == history:
                if best is None or len(history) >= len(tails[best][1]):
                    best = i
        if best is None:
            runs.append(run)
            tails.append((run, inputs + outputs))
            continue
        chain, _ = tails[best]
        chain.spans.extend(run.spans)
        chain.trace_ids += run.trace_ids
        chain.grouped_by = "continued messages"
        tails[best] = (chain, inputs + outputs)
    return runs


def group_runs(spans: list[Span], group_by: str | None = None) -> tuple[list[Run], list[str]]:
    """The runs in ``spans`` (in order of first appearance) and notes on how lone calls were treated."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    runs: list[Run] = []
    sessions: dict[tuple[str, str], Run] = {}
    alone: list[str] = []
    for trace_id, members in by_trace.items():
        lone = _is_lone(members)
        found = _value(members, (group_by,)) if group_by else _value(members, SESSION_KEYS) if lone else None
        if found is None:
            runs.append(Run(trace_id, list(members), [trace_id], lone=lone))
            if lone:
                alone.append(trace_id)
            continue
        run = sessions.get(found)
        if run is None:
            run = sessions[found] = Run(found[1], [], [], grouped_by=found[0])
            runs.append(run)
        run.spans.extend(members)
        run.trace_ids.append(trace_id)
    notes = []
    if alone and not group_by:
        by_id = {r.id: r for r in runs}
        lone_runs = [by_id[t] for t in alone]
        chained = _chain(lone_runs, by_trace)
        joined = [r for r in chained if len(r.trace_ids) > 1]
        if joined:
            keep = {id(r) for r in chained}
            runs = [r for r in runs if not r.lone or id(r) in keep]  # a chain stays where its first call was
            alone = [r.id for r in chained if len(r.trace_ids) == 1]
            notes.append(f"{sum(len(r.trace_ids) for r in joined)} lone model call trace(s) chained into "
                         f"{len(joined)} run(s): each call's input continues the previous call's messages "
                         "(--group-spans-by KEY groups by an attribute instead)")
    if alone:
        how = (f"no {group_by} attribute" if group_by
               else "no parent span and no session.id / gen_ai.conversation.id; --group-spans-by KEY joins them")
        notes.append(f"{len(alone)} model call trace(s) stand alone ({how}): each is read as a run of its own, "
                     "and one whose model asked for a tool is marked incomplete_run")
    for run in runs:
        if len(run.trace_ids) == 1 and run.grouped_by:
            run.id = run.trace_ids[0]  # a session of one trace id keeps its trace id
    return runs, notes
