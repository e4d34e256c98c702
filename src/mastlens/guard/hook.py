"""``mastlens-guard-hook`` / ``mastlens guard claude-code``: the rules detectors as a Claude Code hook.

Claude Code runs the hook with a JSON object on stdin (``session_id``, ``transcript_path``,
``hook_event_name``; ``tool_name``/``tool_input`` on tool events; ``stop_hook_active`` on Stop). Exit code 2
with a reason on stderr blocks the tool call or the stop, and the reason goes back to the model; exit 0
lets it go on. The transcript is read incrementally (what was read, and the adapter's session builder, are
kept per session in a state folder), so a call parses only the lines written since the last one.

* ``PreToolUse``: the call about to run would be the k-th identical call in a row, each of the k-1 before
  it failed with the same output: FM-1.3 (the rules' repetition detector confirms it on the run plus this
  call) -> blocked, the evidence as the reason.
* ``Stop``: the run stops on a change nothing checked (FM-3.2) or a success claim the last tool result
  contradicts (FM-3.3) -> blocked once; never while ``stop_hook_active`` is set, so it cannot trap the agent.
* Never the same reason twice in a row; anything else, and any error inside mastlens, is exit 0.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.guard.hook_quick import blocked_marker
from mastlens.guard.sources import ClaudeCodeFeed, FollowedFile

STATE_VERSION = 1
ALLOW, BLOCK = 0, 2
STOP_MODES = ("FM-3.2", "FM-3.3")


@dataclass
class SessionState:
    offset: int = 0
    inode: int | None = None
    lines: int = 0
    feed: ClaudeCodeFeed | None = None
    last_block: str | None = None  # the reason of the last block, if the last decision was one
    blocks: int = 0


@dataclass
class Decision:
    code: int
    reason: str = ""
    mode: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)


def _state_file(state_dir: Path, session_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)[:120] or "session"
    return state_dir / f"{safe}.pickle"


def load_state(path: Path) -> SessionState:
    try:
        with open(path, "rb") as fh:
            version, state = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError, ImportError):
        return SessionState()
    return state if version == STATE_VERSION and isinstance(state, SessionState) else SessionState()


def save_state(path: Path, state: SessionState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump((STATE_VERSION, state), fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class StateCache:
    """Session states kept in memory between calls (the hook's worker, :mod:`.hook_worker`). A call's state
    is kept at once and written to its file by :meth:`flush`, which the worker runs when no call is waiting;
    a state is read from its file again only when the file changed since (another process wrote it). The
    detectors' per-call caches (each call's key, each call/result pair's failure) are kept with a session's
    transcript reading, so a Stop costs a look at each step rather than a parse of each call."""

    def __init__(self, limit: int = 16):
        self.limit = limit
        self.kept: dict[Path, tuple[tuple[int, int, int] | None, SessionState]] = {}
        self.dirty: dict[Path, SessionState] = {}
        self.views: dict[Path, tuple[Any, dict[int, str], dict[tuple[int, int], bool]]] = {}

    def load(self, path: Path) -> SessionState:
        if path in self.dirty:
            return self.dirty.pop(path)
        kept = self.kept.pop(path, None)
        if kept is not None and kept[0] is not None and kept[0] == _signature(path):
            return kept[1]
        return load_state(path)

    def keep(self, path: Path, state: SessionState) -> None:
        self.dirty[path] = state

    def flush(self) -> None:
        """Write the states kept since the last flush."""
        while self.dirty:
            path, state = self.dirty.popitem()
            save_state(path, state)
            self.kept[path] = (_signature(path), state)
        while len(self.kept) > self.limit:  # the least recently used session goes first
            path = next(iter(self.kept))
            del self.kept[path]
            self.views.pop(path, None)

    def view_caches(self, path: Path, state: SessionState) -> tuple[dict[int, str], dict[tuple[int, int], bool]]:
        """The detectors' caches for the session's steps as ``state``'s transcript reading numbers them (new
        ones when the transcript was read again from its start)."""
        kept = self.views.get(path)
        if kept is None or kept[0] is not state.feed:
            kept = self.views[path] = (state.feed, {}, {})
        return kept[1], kept[2]


def read_transcript(state: SessionState, transcript: Path) -> list[Any]:
    """The session's steps so far, reading only the lines added since the last call."""
    follower = FollowedFile(transcript, state.offset, state.inode)
    chunk = follower.read_new()
    if chunk.restarted or state.feed is None:
        state.feed, state.lines = ClaudeCodeFeed(transcript), 0
        if chunk.restarted:
            follower = FollowedFile(transcript, 0, None)
            chunk = follower.read_new()
    if chunk.lines:
        state.feed.feed(chunk.lines, state.lines + 1)
        state.lines += len(chunk.lines)
    state.offset, state.inode = follower.offset, follower.inode
    return state.feed


def decide(event: dict[str, Any], state: SessionState, config: Any, caches: tuple[dict, dict] | None = None) -> Decision:
    """What the hook answers to one event (the transcript already read into ``state``; ``caches``: the
    detectors' caches for this transcript reading, see :meth:`StateCache.view_caches`)."""
    name = event.get("hook_event_name")
    steps = _session_steps(state, event.get("session_id"))
    if name == "PreToolUse":
        decision = _pre_tool_use(steps, event, config)
    elif name in ("Stop", "SubagentStop"):
        decision = Decision(ALLOW) if event.get("stop_hook_active") else _stop(steps, event, config, caches)
    else:
        decision = Decision(ALLOW)
    if decision.code == BLOCK and decision.reason == state.last_block:
        decision = Decision(ALLOW)  # the same reason again: said once, the agent decides
    state.last_block = decision.reason if decision.code == BLOCK else None
    state.blocks += decision.code == BLOCK
    return decision


def _session_steps(state: SessionState, session_id: Any) -> list[Any]:
    feed = state.feed
    if feed is None or not feed.sessions:
        return []
    session = feed.sessions.get(session_id) if isinstance(session_id, str) else None
    if session is None:
        session = next(iter(feed.sessions.values())) if len(feed.sessions) == 1 else None
    return list(session.builder.steps) if session is not None else []


def _view(steps: list[Any], config: Any, caches: tuple[dict, dict] | None = None) -> Any:
    """The detectors' view of ``steps``; ``caches`` only when every tool call and result in them is the
    transcript's own (a step made up for the decision would be cached under a real step's index)."""
    from mastlens.judges.rules.view import TraceView
    from mastlens.trace import Outcome, Source, Trace

    trace = Trace.model_construct(id="hook", source=Source(format="claude-code"), steps=steps, outcome=Outcome(),
                                  metadata={}, system=None, model=None, task=None)
    keys, failures = caches if caches is not None else (None, None)
    return TraceView.build(trace, config, keys=keys, failures=failures)


def _pre_tool_use(steps: list[Any], event: dict[str, Any], config: Any) -> Decision:
    from mastlens.adapters.codex.output import parse_arguments
    from mastlens.judges.rules import DETECTORS
    from mastlens.judges.rules.view import call_key
    from mastlens.trace import ModeStatus, Step, StepKind

    tool = event.get("tool_name")
    if not isinstance(tool, str) or not steps:
        return Decision(ALLOW)
    k = config.repeat_min_calls
    tail = steps[-8 * k:]
    view = _view(tail, config)
    pending = Step(index=steps[-1].index + 1, kind=StepKind.TOOL_CALL, tool=tool,
                   arguments=parse_arguments(event.get("tool_input")), call_id="pending", agent="assistant")
    key = call_key(pending)
    before = view.calls[-(k - 1):]
    if len(before) < k - 1 or any(c.key != key or not c.failed or c.result is None for c in before) \
            or len({c.output for c in before}) != 1:
        return Decision(ALLOW)
    # would this call, answered as the ones before it were, make the detector's loop? then block it
    answer = before[-1].result.model_copy(update={"index": pending.index + 1, "call_id": "pending"})
    verdict = DETECTORS["FM-1.3"](_view(tail + [pending, answer], config), config)
    if verdict.status is not ModeStatus.PRESENT:
        return Decision(ALLOW)
    quote = before[-1].output.strip().splitlines()[0][:200] if before[-1].output.strip() else "(no output)"
    reason = (f"mastlens guard (FM-1.3 step repetition): this exact {tool} call already failed {k - 1} times in a "
              f"row with the same result ({quote!r}). Running it again will not change that: read the error, "
              f"change the approach or the arguments, or say what blocks you.")
    evidence = [{"step": e.step, "quote": e.quote} for e in verdict.evidence[:3]]
    return Decision(BLOCK, reason, "FM-1.3", evidence)


def _stop(steps: list[Any], event: dict[str, Any], config: Any, caches: tuple[dict, dict] | None = None) -> Decision:
    from mastlens.judges.rules import DETECTORS
    from mastlens.judges.rules.judge import _run as run_detector
    from mastlens.trace import ModeStatus, Step, StepKind

    last = event.get("last_assistant_message")
    if isinstance(last, str) and last.strip() and not _ends_with(steps, last):
        # the transcript is written asynchronously and may lag the message the agent is stopping on
        steps = steps + [Step(index=(steps[-1].index + 1) if steps else 0, kind=StepKind.ASSISTANT, content=last,
                              agent="assistant")]
    if not steps:
        return Decision(ALLOW)
    view = _view(steps, config, caches)  # a step added for the last message is no call: nothing cached for it
    for mode in STOP_MODES:
        verdict = run_detector(DETECTORS[mode], mode, view, config)
        if verdict.status is ModeStatus.PRESENT:
            what = ("a change that nothing checked afterwards" if mode == "FM-3.2"
                    else "a success claim that the last tool result contradicts")
            reason = (f"mastlens guard ({mode}): this stop ends on {what}. {verdict.reason} "
                      "Check the result (run it, read it back) or say plainly what is unverified before stopping.")
            evidence = [{"step": e.step, "quote": e.quote} for e in verdict.evidence[:3]]
            return Decision(BLOCK, reason, mode, evidence)
    return Decision(ALLOW)


def _ends_with(steps: list[Any], text: str) -> bool:
    from mastlens.trace import StepKind

    for step in reversed(steps):
        if step.kind is StepKind.ASSISTANT:
            return " ".join(step.content.split()) == " ".join(text.split())
        if step.kind in (StepKind.TOOL_CALL, StepKind.USER):
            return False
    return False


def run_hook(event: dict[str, Any], state_dir: Path, config: Any, cache: StateCache | None = None) -> Decision:
    """Read the transcript since the last call, decide, and keep the session's state (``cache``: states kept
    in memory from the last call, as the worker keeps them)."""
    session = event.get("session_id")
    transcript = event.get("transcript_path")
    if event.get("hook_event_name") == "SubagentStop" and isinstance(event.get("agent_transcript_path"), str):
        # a subagent's stop: its own transcript, not the main session's
        transcript = event["agent_transcript_path"]
        session = f"{session}-{event.get('agent_id') or 'subagent'}"
        event = {**event, "session_id": None}  # the subagent's lines carry the parent's session id
    if not isinstance(session, str) or not isinstance(transcript, str):
        return Decision(ALLOW)
    path = _state_file(state_dir, session)
    state = cache.load(path) if cache is not None else load_state(path)  # a failed call leaves it out of the cache
    marker = blocked_marker(state_dir, session)
    try:  # the last decision's block, if it was one (the quick path removes the marker when it lets a call go)
        state.last_block = marker.read_text(encoding="utf-8") or state.last_block
    except FileNotFoundError:
        state.last_block = None
    read_transcript(state, Path(transcript).expanduser())
    decision = decide(event, state, config, cache.view_caches(path, state) if cache is not None else None)
    if cache is not None:
        cache.keep(path, state)  # written by the worker when it has a moment
    else:
        save_state(path, state)
    if decision.code == BLOCK:
        marker.write_text(decision.reason, encoding="utf-8")  # the reason, so no state file is needed to see it
    else:
        marker.unlink(missing_ok=True)
    return decision
