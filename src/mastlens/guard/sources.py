"""The adapters' own step builders fed one record at a time, from the lines of a growing file
(:mod:`mastlens.guard.follow`).

Codex rollouts and Claude Code sessions are fed record by record to the adapters' builders
(:class:`~mastlens.adapters.codex.steps.RolloutBuilder`, the Claude Code adapter's session), so a new line
costs what parsing that line costs. Any other format is re-read whole by its adapter when it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import ReadContext
from mastlens.adapters.claude_code import _MESSAGE_TYPES, _Session
from mastlens.adapters.codex.steps import _ECHO, Rollout, RolloutBuilder
from mastlens.guard.follow import Chunk, FollowedFile
from mastlens.trace import Step

__all__ = ["Chunk", "FollowedFile", "Feed", "CodexFeed", "ClaudeCodeFeed", "WholeFileFeed", "feed_for"]

# Records that end an agent's turn (the whole trace is judged then, so ending modes show at the turn's end).
CODEX_TURN_END = {"task_complete", "turn_aborted"}
CLAUDE_TURN_END = {"turn_duration", "stop_hook_summary"}  # system lines newer sessions write after a turn


class Feed:
    """Steps of the runs in one file. ``feed`` takes complete lines and returns, per run id, the new
    steps; ``turn_ended`` names the runs whose turn an ending record closed."""

    def __init__(self) -> None:
        self.turn_ended: set[str] = set()
        self.errors: list[str] = []

    def feed(self, lines: list[bytes], lineno: int) -> dict[str, list[Step]]:
        raise NotImplementedError

    @staticmethod
    def decode(line: bytes) -> Any:
        text = line.strip()
        if not text:
            return None
        return json.loads(text)

    def records(self, lines: list[bytes], lineno: int) -> Iterator[tuple[int, Any]]:
        """Each line's number (the first is ``lineno``) and decoded JSON (None for a blank line); a line that
        is not JSON is recorded in ``errors`` and skipped."""
        for n, line in enumerate(lines, lineno):
            try:
                obj = self.decode(line)
            except ValueError as exc:
                self.errors.append(f"line {n}: invalid JSON ({exc})")
                continue
            yield n, obj


def _unseen(seen: dict[str, int], run_id: str, steps: list[Step]) -> list[Step]:
    """The steps of ``run_id`` past the ``seen[run_id]`` already reported, and marks them seen."""
    done = seen.get(run_id, 0)
    if len(steps) <= done:
        return []
    seen[run_id] = len(steps)
    return steps[done:]


class CodexFeed(Feed):
    """A Codex rollout, through the adapter's :class:`RolloutBuilder`. Echo steps (the UI repeating a
    message) are left out of the live steps; the finished file's read drops those that duplicate."""

    def __init__(self, path: Path):
        super().__init__()
        self.rollout = Rollout(path)
        self.builder = RolloutBuilder(self.rollout)
        self.seen = 0
        self.live_index = 0
        self.run_id = path.stem

    def feed(self, lines: list[bytes], lineno: int) -> dict[str, list[Step]]:
        for n, obj in self.records(lines, lineno):
            if not isinstance(obj, dict) or not isinstance(obj.get("payload"), dict) or "type" not in obj:
                continue
            ts = obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None
            try:
                self.builder.record(str(obj["type"]), obj["payload"], ts)
            except (TypeError, AttributeError, ValueError, KeyError) as exc:
                self.errors.append(f"line {n}: unexpected {obj['type']} record ({type(exc).__name__}: {exc})")
            if obj["type"] == "event_msg" and obj["payload"].get("type") in CODEX_TURN_END:
                self.turn_ended.add(self.run_id)
        if self.rollout.session_id:
            self.run_id = self.rollout.session_id
        new = []
        for step in self.rollout.steps[self.seen:]:
            if _ECHO not in step.metadata:  # numbered as the finished file's read numbers it (echoes dropped)
                new.append(step.model_copy(update={"index": self.live_index}))
                self.live_index += 1
        self.seen = len(self.rollout.steps)
        return {self.run_id: new} if new else {}


class ClaudeCodeFeed(Feed):
    """A Claude Code session file, through the adapter's per-session builder (one run per ``sessionId``)."""

    def __init__(self, path: Path):
        super().__init__()
        self.sessions: dict[str, _Session] = {}
        self.seen: dict[str, int] = {}

    def feed(self, lines: list[bytes], lineno: int) -> dict[str, list[Step]]:
        for n, obj in self.records(lines, lineno):
            if not isinstance(obj, dict):
                continue
            session_id = obj.get("sessionId")
            if not isinstance(session_id, str):
                continue
            if obj.get("type") == "system" and obj.get("subtype") in CLAUDE_TURN_END:
                self.turn_ended.add(session_id)
            if obj.get("type") not in _MESSAGE_TYPES:
                continue
            if session_id not in self.sessions:
                self.sessions[session_id] = _Session(session_id, n)
            self.sessions[session_id].record(obj)
        out = {}
        for sid, session in self.sessions.items():
            if new := _unseen(self.seen, sid, session.builder.steps):
                out[sid] = new
        return out


class WholeFileFeed(Feed):
    """Any other format: the adapter reads the whole file again when it changes; steps past those already
    seen are the new ones (a run whose earlier steps changed is reported from where they differ)."""

    def __init__(self, path: Path, fmt: str):
        super().__init__()
        self.path = path
        self.fmt = fmt
        self.seen: dict[str, int] = {}

    def feed(self, lines: list[bytes], lineno: int) -> dict[str, list[Step]]:
        from mastlens.adapters.loader import read_file

        result = read_file(self.path, self.fmt, ReadContext())
        out = {}
        for trace in result.traces:
            if new := _unseen(self.seen, trace.id, trace.steps):
                out[trace.id] = new
        return out


def feed_for(path: Path, fmt: str) -> Feed:
    if fmt == "codex":
        return CodexFeed(path)
    if fmt == "claude-code":
        return ClaudeCodeFeed(path)
    return WholeFileFeed(path, fmt)


def detect_format(path: Path, head: bytes) -> str | None:
    """The adapter name for a file from its first complete line(s); None when no adapter takes it."""
    from mastlens.adapters.registry import detect_file

    adapter = detect_file(path, head)
    return adapter.name if adapter is not None else None
