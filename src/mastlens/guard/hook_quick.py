"""The Claude Code hook's quick path, standard library only: most tool calls are not a repeat of the call
before them, and saying so needs neither the trace model nor the detectors.

It keeps, per session, the transcript offset it read to and the last few tool calls as (id, loose key).
A PreToolUse whose call differs from any of the last k-1 calls under a *looser* comparison than the rules'
``call_key`` (whitespace collapsed, timeouts dropped) cannot be the k-th identical call in a row, so it is
allowed at once; anything else (a possible repeat, a Stop) goes to the full path in :mod:`.hook`, which
reads the transcript with the Claude Code adapter from its own offset. k is the rules config's
``repeat_min_calls`` as the full path last saw it for the same config file (2, the least a config allows,
until then).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mastlens.guard.follow import FollowedFile

VOLATILE_ARGS = {"timeout", "timeout_ms", "timeout_s", "yield_time_ms", "max_output_tokens"}
KEPT_CALLS = 8
THRESHOLD_FILE = "repeat-threshold.json"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mastlens" / "claude-code"


def loose_key(tool: Any, arguments: Any) -> str:
    """A key equal for any two calls the rules' ``call_key`` calls equal (and perhaps for a few more)."""
    if isinstance(arguments, dict):
        arguments = {k: v for k, v in arguments.items() if k not in VOLATILE_ARGS}
    text = json.dumps(arguments, sort_keys=True, ensure_ascii=False, default=str)
    return f"{tool}\x00{' '.join(text.replace(chr(92) + 'n', ' ').split())}"


def _path(state_dir: Path, session_id: str, suffix: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)[:120] or "session"
    return state_dir / f"{safe}.{suffix}"


def blocked_marker(state_dir: Path, session_id: str) -> Path:
    """Present while the session's last decision was a block (the quick path removes it when it allows)."""
    return _path(state_dir, session_id, "blocked")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and data.get("version") == 1 else {}
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _config_id(rules_config: Path | None) -> list[Any] | None:
    if rules_config is None:
        return None
    path = os.path.abspath(rules_config)
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    return [path, st.st_ino, st.st_mtime_ns, st.st_size]


def remember_repeat_threshold(state_dir: Path, rules_config: Path | None, k: int) -> None:
    """Keep the config's ``repeat_min_calls`` (read by the full path) for the quick path, which reads no config."""
    data = {"version": 1, "config": _config_id(rules_config), "k": k}
    if _load(state_dir / THRESHOLD_FILE) != data:
        _save(state_dir / THRESHOLD_FILE, data)


def repeat_threshold(state_dir: Path, rules_config: Path | None) -> int:
    """k as last seen for this config file (unchanged since), else 2: a call unlike the one before it is no repeat."""
    data = _load(state_dir / THRESHOLD_FILE)
    k = data.get("k")
    if data.get("config") == _config_id(rules_config) and isinstance(k, int) and k >= 2:
        return k
    return 2


def _note_line(line: bytes, calls: list[list[Any]]) -> None:
    try:
        obj = json.loads(line)
    except ValueError:
        return
    if not isinstance(obj, dict) or obj.get("type") not in ("assistant", "user"):
        return
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") in ("tool_use", "server_tool_use"):
            calls.append([block.get("id"), loose_key(block.get("name"), block.get("input"))])
        elif block.get("type") == "tool_result":
            pass  # answered or not, a repeat goes to the full path, which reads the results
    del calls[:-KEPT_CALLS]


def quick_allow(event: dict[str, Any], state_dir: Path, rules_config: Path | None = None) -> bool:
    """True when the event can be let through without the full path (its state is then kept up to date)."""
    name = event.get("hook_event_name")
    session, transcript = event.get("session_id"), event.get("transcript_path")
    if name not in ("PreToolUse", "PostToolUse") or not isinstance(session, str) or not isinstance(transcript, str):
        return False
    path = _path(state_dir, session, "quick.json")
    data = _load(path)
    follower = FollowedFile(Path(transcript).expanduser(), int(data.get("offset", 0)), data.get("inode"))
    chunk = follower.read_new()
    calls: list[list[Any]] = [] if chunk.restarted else list(data.get("calls") or [])
    for line in chunk.lines:
        _note_line(line, calls)
    _save(path, {"version": 1, "offset": follower.offset, "inode": follower.inode, "calls": calls})
    if name == "PreToolUse":
        pending = loose_key(event.get("tool_name"), event.get("tool_input"))
        before = min(repeat_threshold(state_dir, rules_config) - 1, KEPT_CALLS)
        if len(calls) >= before and all(c[1] == pending for c in calls[-before:]):
            return False  # perhaps the k-th identical call in a row: the detectors decide
    try:
        blocked_marker(state_dir, session).unlink()
    except FileNotFoundError:
        pass
    return True
