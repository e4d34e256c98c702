"""OpenAI-style chat logs: a JSON list of messages, ``{"messages": [...]}`` records, or JSONL of them.

A record may carry ``id``, ``model``, ``task``, ``system`` (the agent framework), ``metadata`` and
``outcome``: a dict (``success``, ``score``, ``metrics``), a bool, a number (the score) or a word
(``success``/``failed``...). Trace id: the record's ``id``, else ``<file name>#<record index>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, plain_name, trace_suffix
from mastlens.adapters.chat_messages import looks_like_message, message_steps
from mastlens.adapters.jsonstream import BadLine, first_record_keys, iter_records, read_each
from mastlens.trace import Outcome, Source, Trace

_SUCCESS_WORDS = {"success", "succeeded", "pass", "passed", "resolved", "completed", "solved"}
_FAILURE_WORDS = {"failure", "failed", "fail", "error", "unresolved", "incomplete", "unsolved"}


def outcome_from(value: Any) -> Outcome:
    """A record's own outcome, in any of the accepted shapes (unknown words go to metrics)."""
    if isinstance(value, bool):
        return Outcome(success=value)
    if isinstance(value, (int, float)):
        return Outcome(score=float(value))
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _SUCCESS_WORDS | _FAILURE_WORDS:
            return Outcome(success=word in _SUCCESS_WORDS, metrics={"status": value})
        return Outcome(metrics={"status": value})
    if isinstance(value, dict):
        success = value.get("success")
        score = value.get("score")
        metrics = dict(value["metrics"]) if isinstance(value.get("metrics"), dict) else {}
        metrics.update({k: v for k, v in value.items() if k not in ("success", "score", "metrics")})
        return Outcome(success=success if isinstance(success, bool) else None,
                       score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool)
                       else None, metrics=metrics)
    return Outcome()


def _is_chat_keys(keys: list[str] | None) -> bool:
    if not keys:
        return False
    if "messages" in keys:
        return True
    return keys[0] in ("role", "content") and "role" in keys


def _messages_of(obj: Any) -> tuple[list[Any], dict[str, Any]]:
    """(messages, record fields) of one record; ValueError when it is no conversation."""
    if isinstance(obj, list):
        if obj and not looks_like_message(obj[0]):
            raise ValueError("a list that is not chat messages (no role/content)")
        return obj, {}
    if isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        return obj["messages"], obj
    if looks_like_message(obj):
        raise ValueError("a single message, not a conversation (expected a list of messages or {\"messages\": [...]})")
    raise ValueError("not a chat record (expected {\"messages\": [...]} or a list of messages)")


class OpenAIChatAdapter(Adapter):
    name = "openai"
    description = "OpenAI-style chat messages with tool_calls and tool results"
    detects = 'a JSON list of {role, content} messages, {"messages": [...]} records, or JSONL of either'
    outcome = ('a record\'s "outcome": an object {"success": bool, "score": number, "metrics": {name: number}} '
               '(its other keys go to metrics), or just true/false, a number (the score), or a word '
               '("success", "failed", "resolved"...; kept as metrics.status)')
    priority = 40

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if text.startswith("[") and text[1:].lstrip().startswith("["):  # a JSON list of conversations
            return _is_chat_keys(first_record_keys(text[1:].lstrip()[1:].lstrip()))
        if text.startswith("{") and trace_suffix(path) in (".jsonl", ".ndjson"):
            return _is_chat_keys(first_record_keys(text))
        keys = first_record_keys(text)
        if text.startswith("{"):
            return bool(keys) and "messages" in keys and "role" not in keys
        return _is_chat_keys(keys)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        records = iter_records(path)
        first = next(records, None)
        if first is None:
            raise AdapterError("empty file")
        if looks_like_message(first[2]):  # the whole file is one conversation, a message per record
            messages = []
            for line, _, obj in chain([first], records):
                if isinstance(obj, BadLine):
                    raise AdapterError(obj.reason, line=line)
                messages.append(obj)
            records = iter([(first[0], 0, messages)])
        else:
            records = chain([first], records)
        yield from read_each(ctx, records, lambda line, index, record: self._trace(path, ctx, record, line, index),
                             "OpenAI chat messages")

    def _trace(self, path: Path, ctx: ReadContext, record: Any, line: int | None, index: int) -> Trace:
        messages, fields = _messages_of(record)
        steps = message_steps(messages)  # MessageError is a ValueError: reported with the record
        trace_id = fields.get("id")
        meta = dict(fields["metadata"]) if isinstance(fields.get("metadata"), dict) else {}
        tools = fields.get("tools")
        if isinstance(tools, list):
            specs = [t.get("function") if isinstance(t.get("function"), dict) else t for t in tools if isinstance(t, dict)]
            meta["tools"] = [spec.get("name") for spec in specs]
        return Trace(
            id=str(trace_id) if trace_id not in (None, "") else f"{plain_name(path)}#{index}",
            source=Source(format=self.name, path=str(path), line=line, record=index),
            system=fields.get("system") if isinstance(fields.get("system"), str) else None,
            model=str(fields["model"]) if fields.get("model") else None,
            task=str(fields["task"]) if fields.get("task") else None,
            steps=steps,
            outcome=ctx.success_rule.apply(outcome_from(fields.get("outcome"))),
            metadata=meta,
        )


ADAPTER = OpenAIChatAdapter()
