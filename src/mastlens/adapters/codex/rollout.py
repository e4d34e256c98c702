"""Codex CLI rollout JSONL (``~/.codex/sessions/.../rollout-*.jsonl``; what ITBench's SRE agent writes).

One ``{"timestamp", "type", "payload"}`` object per line: ``session_meta`` (session id, system prompt in
``instructions``, CLI version), ``turn_context`` (one per model turn, with the model), ``response_item``
(messages, reasoning, tool calls and outputs), ``event_msg`` (UI echoes of messages, token counts,
aborted turns, rollbacks) and ``compacted`` (context compaction). The file is read line by line;
echoes and snapshots are dropped, calls and outputs are paired by ``call_id``, outputs are kept whole.
:func:`parse_rollout` is shared with the ITBench run-folder adapter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import (
    Adapter, AdapterError, ReadContext, first_json_line, head_text, json_reason, open_trace, trace_stem,
)
from mastlens.adapters.codex.steps import Rollout, RolloutBuilder
from mastlens.trace import Outcome, Source, Trace

_HEAD = re.compile(
    r'^\{\s*"timestamp"\s*:\s*"[^"]*"\s*,\s*"type"\s*:\s*"(session_meta|response_item|turn_context)"\s*,'
    r'\s*"payload"\s*:\s*\{'
)
_MAX_LINE_ISSUES = 5


def looks_like_rollout(obj: Any) -> bool:
    """A first record of a rollout: session_meta, or a response_item/turn_context when it is missing."""
    return (isinstance(obj, dict) and {"timestamp", "type", "payload"} <= obj.keys()
            and obj.get("type") in ("session_meta", "response_item", "turn_context")
            and isinstance(obj.get("payload"), dict))


def sniff_head(head: bytes) -> bool:
    obj = first_json_line(head)
    if obj is not None:
        return looks_like_rollout(obj)
    return bool(_HEAD.match(head_text(head)[:2000]))  # first line longer than the head


def _issue(ctx: ReadContext, count: int, reason: str, line: int) -> None:
    if count < _MAX_LINE_ISSUES:
        ctx.record_issue(reason, line=line)


def _decode_line(line: list[bytes]) -> tuple[Any, str]:
    """(record, reason it is not usable). The bytes are freed once decoded, so a very long line
    is not held three times over while it is parsed."""
    raw = line.pop()
    complete = raw.endswith(b"\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 at byte {exc.start} of the line"
    del raw
    try:
        return json.loads(text), "not a rollout record ({timestamp, type, payload})"
    except ValueError as exc:
        cut = "" if complete else " (truncated line?)"
        return None, f"invalid JSON: {json_reason(exc)}{cut}"


def parse_rollout(path: Path, ctx: ReadContext) -> Rollout:
    """Read a rollout line by line. Bad lines are reported and skipped; a file that is not a
    rollout at all raises :class:`AdapterError`."""
    rollout = Rollout(path)
    builder = RolloutBuilder(rollout)
    records = bad = 0
    lineno = 0
    with open_trace(path) as fh:
        while True:
            line = [fh.readline()]  # held in a list so _decode_line can drop the only reference
            if not line[0]:
                break
            lineno += 1
            if not line[0].strip():
                continue
            obj, reason = _decode_line(line)
            if not records and not bad and not looks_like_rollout(obj):
                raise AdapterError(f"not a Codex rollout: {reason}" if obj is None
                                   else "not a Codex rollout: first line is not session_meta/response_item/"
                                        "turn_context", line=lineno)
            if not isinstance(obj, dict) or not isinstance(obj.get("payload"), dict) or "type" not in obj:
                _issue(ctx, bad, reason, lineno)
                bad += 1
                continue
            records += 1
            ts = obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None
            if ts:
                rollout.first_ts = rollout.first_ts or ts
                rollout.last_ts = ts
            try:
                builder.record(str(obj["type"]), obj["payload"], ts)
            except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a field of an unexpected shape
                _issue(ctx, bad, f"unexpected {obj['type']} record shape ({type(exc).__name__}: {exc})", lineno)
                bad += 1
    if bad > _MAX_LINE_ISSUES:
        ctx.record_issue(f"{bad - _MAX_LINE_ISSUES} more unreadable lines skipped")
    if not records:
        raise AdapterError("empty file" if not bad else "no readable rollout records")
    builder.finish()
    return rollout


def success_outcome(ctx: ReadContext, score: float | None = None, metrics: dict[str, Any] | None = None) -> Outcome:
    return ctx.success_rule.apply(Outcome(score=score, metrics=metrics or {}))


class CodexAdapter(Adapter):
    name = "codex"
    description = "Codex CLI rollout JSONL (sessions/rollout-*.jsonl), as written by ITBench's SRE agent"
    detects = 'JSONL whose first line is {"timestamp", "type": "session_meta"|"response_item"|"turn_context", "payload"}'
    outcome = "none in a rollout file (read an ITBench trial folder for the judge's scores)"
    priority = 20
    extensions = (".jsonl", ".ndjson", ".json")

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_head(head)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        rollout = parse_rollout(path, ctx)
        yield Trace(
            id=rollout.session_id or trace_stem(path),
            source=Source(format=self.name, path=str(path)),
            system="codex",
            model=rollout.model,
            steps=rollout.steps,
            outcome=success_outcome(ctx),
            metadata=rollout.summary(),
        )


ADAPTER = CodexAdapter()
