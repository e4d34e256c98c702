"""Claude Code session JSONL (``~/.claude/projects/<project>/<session>.jsonl``).

One JSON object per line: ``type`` user / assistant (with ``message{role, model, content, usage}``),
system (``subtype`` e.g. ``compact_boundary``), summary and bookkeeping lines, each with ``sessionId``,
``uuid``, ``parentUuid``, ``isSidechain``, ``cwd``, ``version``, ``gitBranch`` and ``timestamp``.
Content blocks: text, thinking, tool_use (``id``, ``name``, ``input``) and tool_result
(``tool_use_id``, ``content``, ``is_error``). One trace per ``sessionId`` (the trace id); compaction and
system lines become event steps (compaction matters for FM-1.4). Lines that are not JSON are reported
and skipped; the rest of the session is still read.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, first_json_line, head_text
from mastlens.adapters.jsonstream import BadLine, iter_lines
from mastlens.adapters.steps import StepBuilder, as_text, content_text
from mastlens.trace import Outcome, Source, StepKind, Trace

_LINE_TYPES = {"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation"}
_MESSAGE_TYPES = {"user", "assistant", "system"}
_MAX_LINE_ISSUES = 5
_SESSION_KEY = re.compile(r'"sessionId"\s*:\s*"')
_THREAD_KEY = re.compile(r'"(parentUuid|isSidechain|userType)"\s*:')
_SYNTHETIC_MODEL = "<synthetic>"


def looks_like_session_line(obj: Any) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in _LINE_TYPES:
        return False
    if obj["type"] in _MESSAGE_TYPES:
        return "sessionId" in obj and ("message" in obj or "subtype" in obj or "content" in obj)
    return "leafUuid" in obj or "messageId" in obj or "sessionId" in obj


class _Session:
    """The steps and facts of one session id."""

    def __init__(self, session_id: str, line: int):
        self.id = session_id
        self.line = line
        self.builder = StepBuilder()
        self.models: Counter = Counter()
        self.meta: dict[str, Any] = {}
        self.tokens: Counter = Counter()
        self.first_ts: str | None = None
        self.last_ts: str | None = None

    def record(self, obj: dict[str, Any]) -> None:
        ts = obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None
        if ts:
            self.first_ts = self.first_ts or ts
            self.last_ts = ts
        for key in ("cwd", "version", "gitBranch", "slug"):
            if isinstance(obj.get(key), str) and key not in self.meta:
                self.meta[key] = obj[key]
        kind = obj.get("type")
        agent = "subagent" if obj.get("isSidechain") else None
        if kind == "system":
            self._system(obj, ts)
        elif kind == "assistant":
            message = obj.get("message")
            self._assistant(message if isinstance(message, dict) else {"content": message}, ts, agent or "assistant")
        elif kind == "user":
            self._user(obj, ts, agent or "user")

    def _system(self, obj: dict[str, Any], ts: str | None) -> None:
        meta: dict[str, Any] = {"event": obj.get("subtype") or "system"}
        if isinstance(obj.get("compactMetadata"), dict):
            meta.update({k: v for k, v in obj["compactMetadata"].items() if isinstance(v, (str, int, float))})
        if obj.get("level"):
            meta["level"] = obj["level"]
        self.builder.add(StepKind.EVENT, as_text(obj.get("content")), timestamp=ts, metadata=meta)

    def _user(self, obj: dict[str, Any], ts: str | None, agent: str) -> None:
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else message
        if obj.get("isCompactSummary"):
            self.builder.add(StepKind.EVENT, content_text(content), timestamp=ts,
                             metadata={"event": "compact_summary"})
            return
        blocks = content if isinstance(content, list) else [content]
        text_parts = []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                meta = {"is_error": True} if block.get("is_error") else {}
                self.builder.result(content_text(block.get("content")), call_id=block.get("tool_use_id"),
                                    timestamp=ts, metadata=meta)
            else:
                text_parts.append(block)
        text = content_text(text_parts)
        if text:
            meta = {"meta_message": True} if obj.get("isMeta") else {}
            self.builder.add(StepKind.USER, text, agent=agent, timestamp=ts, metadata=meta)

    def _assistant(self, message: dict[str, Any], ts: str | None, agent: str) -> None:
        model = message.get("model")
        if isinstance(model, str) and model and model != _SYNTHETIC_MODEL:
            self.models[model] += 1
        usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
        self.tokens.update({k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)})
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content_text(content)}]
        last = None
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "thinking" and block.get("thinking"):
                last = self.builder.add(StepKind.REASONING, block["thinking"], agent=agent, timestamp=ts)
            elif kind == "text" and block.get("text"):
                last = self.builder.add(StepKind.ASSISTANT, block["text"], agent=agent, timestamp=ts)
            elif kind in ("tool_use", "server_tool_use"):
                last = self.builder.call(block.get("name"), block.get("input"), block.get("id"),
                                         agent=agent, timestamp=ts)
        if last is not None and isinstance(usage.get("output_tokens"), int):
            last.tokens = usage["output_tokens"]

    def trace(self, path: Path, fmt: str, ctx: ReadContext) -> Trace:
        meta = dict(self.meta)
        meta.update({"session_id": self.id, "started": self.first_ts, "ended": self.last_ts})
        if self.tokens:
            meta["tokens"] = dict(self.tokens)
        if len(self.models) > 1:
            meta["models"] = dict(self.models)
        return Trace(
            id=self.id, source=Source(format=fmt, path=str(path), line=self.line), system="claude-code",
            model=self.models.most_common(1)[0][0] if self.models else None, steps=self.builder.steps,
            outcome=ctx.success_rule.apply(Outcome()), metadata={k: v for k, v in meta.items() if v is not None},
        )


def _lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Parsed lines; unreadable ones are reported (the first few) and skipped."""
    bad = 0
    for lineno, _, obj in iter_lines(path):
        if isinstance(obj, BadLine):
            if bad < _MAX_LINE_ISSUES:
                ctx.record_issue(obj.reason, line=lineno)
            bad += 1
        elif isinstance(obj, dict):
            yield lineno, obj
    if bad > _MAX_LINE_ISSUES:
        ctx.record_issue(f"{bad - _MAX_LINE_ISSUES} more unreadable lines skipped")


class ClaudeCodeAdapter(Adapter):
    name = "claude-code"
    description = "Claude Code session JSONL (~/.claude/projects/*/<session>.jsonl)"
    detects = 'JSONL whose first line has "type" user/assistant/system/summary and a "sessionId" (or "leafUuid")'
    outcome = "none: sessions record no result (success unknown; ingest the outcome with another format)"
    priority = 25
    extensions = (".jsonl", ".ndjson")

    def sniff(self, path: Path, head: bytes) -> bool:
        first = first_json_line(head)
        if first is not None:
            return looks_like_session_line(first)
        start = head_text(head)[:4000]  # a first line longer than the head: look at its opening keys
        return start.startswith("{") and bool(_SESSION_KEY.search(start)) and bool(_THREAD_KEY.search(start))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        sessions: dict[str, _Session] = {}
        for lineno, obj in _lines(path, ctx):
            session_id = obj.get("sessionId")
            if not isinstance(session_id, str) or obj.get("type") not in _MESSAGE_TYPES:
                continue
            if session_id not in sessions:
                sessions[session_id] = _Session(session_id, lineno)
            sessions[session_id].record(obj)
        if not sessions and not ctx.issues:  # unreadable lines were already reported, one line each
            raise AdapterError("no Claude Code message lines (type user/assistant/system with a sessionId)")
        for session in sessions.values():
            yield session.trace(path, self.name, ctx)


ADAPTER = ClaudeCodeAdapter()
