"""OpenTelemetry span containers -> plain :class:`Span` records.

Three shapes are read:

* OTLP/JSON (OTLP specification 1.5.0, opentelemetry-proto v1.5.0 JSON encoding): ``{"resourceSpans":
  [{"resource": {"attributes": [...]}, "scopeSpans": [{"scope": {...}, "spans": [...]}]}]}`` with hex
  ``traceId``/``spanId``/``parentSpanId``, ``startTimeUnixNano`` as decimal strings and attributes as
  ``[{"key", "value": {"stringValue" | "intValue" | "doubleValue" | "boolValue" | "arrayValue" |
  "kvlistValue" | "bytesValue"}}]``.
* flat span lists as exporters and UIs write them (JS SDK ``ReadableSpan`` dumps with ``spanContext`` and
  ``[seconds, nanos]`` times, Phoenix with ``context.trace_id`` and ISO times, ``{"data": [...]}``
  wrappers), attributes as a flat or nested map; Langfuse observation exports (``traceId``, ``id``,
  ``parentObservationId``, ``type``, ``input``/``output``) are mapped to OpenInference keys;
* a bare attribute map of one span.

Nested attribute maps are flattened to OpenInference's dotted keys (lists of objects get ``.N.`` indices).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mastlens.adapters.base import AdapterError

_ERROR_CODES = {2, "2", "ERROR", "STATUS_CODE_ERROR", "error"}
_HEX_ID = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{16})$")


def normalize_id(value: Any) -> str | None:
    """A trace or span id as lowercase hex: OTLP/JSON's hex, or the base64 that protobuf's ``MessageToJson``
    writes (16 / 8 bytes); other ids (Phoenix, Langfuse) are kept as they are."""
    if value in (None, ""):
        return None
    text = str(value)
    if _HEX_ID.match(text):
        return text.lower()
    if len(text) in (12, 24):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
        if len(raw) in (8, 16):
            return raw.hex()
    return text


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int | None
    end_ns: int | None
    attributes: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    order: int = 0

    @property
    def is_error(self) -> bool:
        return self.status.get("code") in _ERROR_CODES or self.status.get("status_code") in _ERROR_CODES

    @property
    def timestamp(self) -> str | None:
        if self.start_ns is None:
            return None
        return datetime.fromtimestamp(self.start_ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def any_value(value: Any) -> Any:
    """Decode an OTLP/JSON ``AnyValue`` wrapper (plain values pass through; an empty one is null)."""
    if isinstance(value, dict) and not value:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (kind, inner), = value.items()
    if kind == "stringValue" or kind == "boolValue":
        return inner
    if kind in ("intValue", "doubleValue"):
        try:
            return int(inner) if kind == "intValue" else float(inner)
        except (TypeError, ValueError):
            return inner
    if kind == "arrayValue":
        return [any_value(v) for v in (inner or {}).get("values", [])]
    if kind == "kvlistValue":
        return {kv.get("key"): any_value(kv.get("value")) for kv in (inner or {}).get("values", [])}
    if kind == "bytesValue":
        return base64.b64decode(inner).hex()
    return value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, inner in enumerate(value):
            _flatten(f"{prefix}.{i}", inner, out)
    else:
        out[prefix] = value


def attribute_map(raw: Any) -> dict[str, Any]:
    """Attributes as one flat dotted-key dict, from an OTLP key/value list or a (nested) map."""
    out: dict[str, Any] = {}
    if isinstance(raw, list):
        for kv in raw:
            if isinstance(kv, dict) and "key" in kv:
                _flatten(str(kv["key"]), any_value(kv.get("value")), out)
    elif isinstance(raw, dict):
        _flatten("", raw, out)
    return out


def to_ns(value: Any) -> int | None:
    """A time as Unix nanoseconds: decimal strings or numbers (unit guessed from size), ``[sec, nanos]``
    pairs, or ISO 8601 strings."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return int(value[0]) * 1_000_000_000 + int(value[1])
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1_000_000) * 1000
    if isinstance(value, (int, float)):
        for limit, scale in ((1e17, 1), (1e14, 1_000), (1e11, 1_000_000)):
            if value >= limit:
                return int(value * scale)
        return int(value * 1_000_000_000)
    return None


def _first(obj: dict[str, Any], *paths: str) -> Any:
    for path in paths:
        value: Any = obj
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value not in (None, ""):
            return value
    return None


_LANGFUSE_KINDS = {"GENERATION": "LLM", "TOOL": "TOOL", "AGENT": "AGENT", "EMBEDDING": "EMBEDDING"}


def _json_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def langfuse_attributes(obj: dict[str, Any]) -> dict[str, Any]:
    """A Langfuse observation (``type`` GENERATION / SPAN / TOOL / AGENT..., ``input``, ``output``, ``model``,
    ``usageDetails``) in OpenInference keys."""
    kind = _LANGFUSE_KINDS.get(str(obj.get("type") or "").upper(), "CHAIN")
    usage = obj.get("usageDetails") or obj.get("usage") or {}
    attributes = {
        "openinference.span.kind": kind, "llm.model_name": obj.get("model"),
        "input.value": _json_text(obj.get("input")), "output.value": _json_text(obj.get("output")),
        "llm.token_count.completion": usage.get("output") if isinstance(usage, dict) else None,
        "tool.name": obj.get("name") if kind == "TOOL" else None,
        "agent.name": obj.get("name") if kind == "AGENT" else None,
        "session.id": obj.get("sessionId"),
    }
    return {k: v for k, v in attributes.items() if v is not None}


def flat_span(obj: dict[str, Any], order: int, resource: dict[str, Any] | None = None) -> Span:
    """One span object of any of the flat shapes (or an OTLP span, or a Langfuse observation)."""
    trace_id = _first(obj, "traceId", "trace_id", "context.trace_id", "spanContext.traceId", "context.traceId")
    span_id = _first(obj, "spanId", "span_id", "context.span_id", "spanContext.spanId", "context.spanId", "id")
    if trace_id is None or span_id is None:
        raise AdapterError("span without a trace id and span id", record=order)
    langfuse = "attributes" not in obj and "type" in obj and ("input" in obj or "output" in obj)
    attributes = langfuse_attributes(obj) if langfuse else attribute_map(obj.get("attributes"))
    kind = obj.get("span_kind") or obj.get("spanKind")
    if isinstance(kind, str) and kind.isupper() and "openinference.span.kind" not in attributes:
        attributes["openinference.span.kind"] = kind  # Phoenix keeps the OpenInference kind beside the map
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if not status and obj.get("status_code"):
        status = {"code": obj["status_code"], "message": obj.get("status_message")}
    if not status and obj.get("level") == "ERROR":  # Langfuse
        status = {"code": "ERROR", "message": obj.get("statusMessage")}
    events = [{"name": e.get("name"), "attributes": attribute_map(e.get("attributes"))}
              for e in obj.get("events") or [] if isinstance(e, dict)]
    return Span(
        trace_id=normalize_id(trace_id) or "", span_id=normalize_id(span_id) or "",
        parent_id=normalize_id(_first(obj, "parentSpanId", "parent_span_id", "parent_id", "parentId",
                                      "parentSpanContext.spanId", "parentObservationId")),
        name=str(obj.get("name") or ""),
        start_ns=to_ns(_first(obj, "startTimeUnixNano", "start_time", "startTime")),
        end_ns=to_ns(_first(obj, "endTimeUnixNano", "end_time", "endTime")),
        attributes=attributes, status=status, events=events, resource=resource or {}, order=order,
    )


def _is_attribute_map(data: dict[str, Any]) -> bool:
    keys = [k for k in data if k.startswith(("openinference.", "llm.", "gen_ai.", "ai."))]
    return len(keys) >= 2


def parse_spans(data: Any, bare_id: str) -> list[Span]:
    """Every span in a parsed JSON document; ``bare_id`` names the trace of a bare attribute map. An OTLP
    logs export (``resourceLogs`` only) holds no span."""
    if isinstance(data, dict) and "resourceLogs" in data and "resourceSpans" not in data:
        return []
    if isinstance(data, dict) and isinstance(data.get("resourceSpans"), list):
        spans: list[Span] = []
        for rs in data["resourceSpans"]:
            resource = attribute_map(((rs or {}).get("resource") or {}).get("attributes"))
            for ss in (rs or {}).get("scopeSpans") or (rs or {}).get("instrumentationLibrarySpans") or []:
                for obj in (ss or {}).get("spans") or []:
                    spans.append(flat_span(obj, len(spans), resource))
        return spans
    if isinstance(data, dict) and isinstance(data.get("data") or data.get("spans"), list):
        data = data.get("data") or data.get("spans")
    if isinstance(data, list):
        return [flat_span(obj, i) for i, obj in enumerate(data) if isinstance(obj, dict)]
    if isinstance(data, dict) and _is_attribute_map(data):
        attributes = attribute_map(data)
        name = str(attributes.get("gen_ai.operation.name") or attributes.get("openinference.span.kind") or "span")
        return [Span(trace_id=bare_id, span_id="", parent_id=None, name=name, start_ns=None, end_ns=None,
                     attributes=attributes)]
    raise AdapterError("not OpenTelemetry spans: expected resourceSpans, a span list or a span attribute map")
