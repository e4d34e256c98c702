"""MAST labels as OpenTelemetry evaluation events, encoded as OTLP/JSON logs.

One ``gen_ai.evaluation.result`` event (OTel GenAI semantic conventions, ``model/gen-ai/events.yaml``,
stability "development"; a log record with ``eventName``) per trace and assessed mode:
``gen_ai.evaluation.name`` = ``mast.FM-x.y``, ``gen_ai.evaluation.score.label`` = ``present`` or ``absent``,
``gen_ai.evaluation.score.value`` = the judge's confidence, ``gen_ai.evaluation.explanation`` = its reason.
Absent is exported as a verdict of its own, so downstream "absent" and "never looked at" stay apart; modes
the judge did not assess are left out unless asked for (label ``not_assessed``, no score). The document follows the OTLP/JSON encoding (OTLP 1.5.0): ``resourceLogs → scopeLogs →
logRecords``, times as decimal-string nanoseconds, attribute values wrapped (``stringValue``,
``doubleValue``, ``intValue`` as a string...). When a trace came from OpenTelemetry the record carries its
``traceId`` and the ``spanId`` of the first evidence step's span (else the root span), so Phoenix, Langfuse
and other OTLP backends show the label beside the span.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from mastlens.store import Store
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import ModeStatus, ModeVerdict, Trace

EVENT_NAME = "gen_ai.evaluation.result"
EVALUATION_PREFIX = "mast."
SEVERITY_INFO = 9
_HEX_TRACE = re.compile(r"^[0-9a-f]{32}$")
_HEX_SPAN = re.compile(r"^[0-9a-f]{16}$")


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON ``AnyValue`` (int64 as a decimal string, as the encoding requires)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items() if v is not None]


def _unix_nano(stamp: str | None) -> str:
    when = None
    if stamp:
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            when = None
    when = when or datetime.now(timezone.utc)
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return str(int(when.timestamp() * 1_000_000) * 1000)


def _link(trace: Trace | None, verdict: ModeVerdict) -> dict[str, str]:
    """traceId/spanId of the source OTel trace: the first evidence step's span, else the root span."""
    otel = (trace.metadata.get("otel") if trace else None) or {}
    trace_id = str(otel.get("trace_id") or "").lower()
    if not _HEX_TRACE.match(trace_id) or trace_id == "0" * 32:
        return {}
    span_id = str(otel.get("root_span_id") or "").lower()
    first = verdict.first_step
    if first is not None and 0 <= first < len(trace.steps):
        step_span = str(trace.steps[first].metadata.get("span_id") or "").lower()
        span_id = step_span if _HEX_SPAN.match(step_span) else span_id
    link = {"traceId": trace_id}
    if _HEX_SPAN.match(span_id) and span_id != "0" * 16:
        link["spanId"] = span_id
    return link


def evaluation_record(trace_id: str, set_name: str, verdict: ModeVerdict, taxonomy: Taxonomy,
                      trace: Trace | None, time_unix_nano: str) -> dict[str, Any]:
    """One ``gen_ai.evaluation.result`` log record."""
    mode = taxonomy.by_id.get(verdict.id)
    label = verdict.status.value
    attributes = {
        "gen_ai.evaluation.name": f"{EVALUATION_PREFIX}{verdict.id}",
        "gen_ai.evaluation.score.label": label,
        "gen_ai.evaluation.score.value": None if verdict.confidence is None or verdict.status is ModeStatus.NOT_ASSESSED
        else float(verdict.confidence),
        "gen_ai.evaluation.explanation": verdict.reason or None,
        "mast.mode.name": mode.name if mode else None,
        "mast.mode.category": mode.category if mode else None,
        "mast.trace.id": trace_id,
        "mast.annotation_set": set_name,
        "mast.evidence.steps": [e.step for e in verdict.evidence] or None,
    }
    record = {
        "timeUnixNano": time_unix_nano, "observedTimeUnixNano": time_unix_nano,
        "severityNumber": SEVERITY_INFO, "severityText": "INFO", "eventName": EVENT_NAME,
        "body": {"stringValue": f"MAST {verdict.id} {mode.name if mode else ''}: {label}".replace("  ", " ")},
        "attributes": key_values(attributes),
    }
    record.update(_link(trace, verdict))
    return record


def evaluation_logs(store: Store, set_name: str, *, include_not_assessed: bool = False,
                    taxonomy: Taxonomy | None = None, version: str = "") -> dict[str, Any]:
    """The OTLP/JSON logs document for an annotation set: every assessed verdict, present or absent, and
    not-assessed modes with ``include_not_assessed`` (stale annotations and judge errors left out)."""
    taxonomy = taxonomy or load_taxonomy()
    wanted = {ModeStatus.PRESENT, ModeStatus.ABSENT} | ({ModeStatus.NOT_ASSESSED} if include_not_assessed else set())
    stamps = {r[0]: r[1] for r in store.conn.execute(
        "SELECT trace_id, updated_at FROM trace_annotations WHERE set_name = ?", (set_name,))}
    records = []
    for ann in store.get_annotations(set_name):
        if ann.verdict is None:
            continue
        modes = dict(ann.verdict.modes)
        for mode_id in taxonomy.ids:  # a mode the verdict does not mention was not assessed
            modes.setdefault(mode_id, ModeVerdict(id=mode_id, status=ModeStatus.NOT_ASSESSED))
        verdicts = [v for v in modes.values() if v.status in wanted]
        if not verdicts:
            continue
        trace = store.get_trace(ann.trace_id)
        when = _unix_nano(stamps.get(ann.trace_id))
        for verdict in sorted(verdicts, key=lambda v: taxonomy.ids.index(v.id) if v.id in taxonomy.ids else 99):
            records.append(evaluation_record(ann.trace_id, set_name, verdict, taxonomy, trace, when))
    resource = {"service.name": "mastlens", "telemetry.sdk.name": "mastlens", "mast.taxonomy.version":
                taxonomy.version}
    return {"resourceLogs": [{
        "resource": {"attributes": key_values(resource)},
        "scopeLogs": [{"scope": {"name": "mastlens", "version": version}, "logRecords": records}],
    }]}
