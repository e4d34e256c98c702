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

from mastlens.adapters.otel.conventions import span_kind
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
    if alone:
        how = (f"no {group_by} attribute" if group_by
               else "no parent span and no session.id / gen_ai.conversation.id; --group-spans-by KEY joins them")
        notes.append(f"{len(alone)} model call trace(s) stand alone ({how}): each is read as a run of its own, "
                     "and one whose model asked for a tool is marked incomplete_run")
    for run in runs:
        if len(run.trace_ids) == 1 and run.grouped_by:
            run.id = run.trace_ids[0]  # a session of one trace id keeps its trace id
    return runs, notes
