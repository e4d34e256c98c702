"""What the SWE-bench agent formats share: recognising a trajectory by its name or its top-level keys,
the bounded copy of a submitted patch, the run statistics as metrics and the run's end event.

Conventions every SWE reader follows (so judges and ``show`` can rely on them):

* an executed command is a ``tool_call`` (``tool="bash"`` unless the source names the tool,
  ``arguments={"command": ...}``) followed by its ``tool_result`` with ``metadata["exit_code"]`` where the
  harness states one (and ``is_error`` when it is not 0, or the command timed out);
* a reply the harness rejected (no or several actions) stays an ``assistant`` step marked
  ``metadata["rejected"] = True``; the harness's answer to it is an ``event`` step with
  ``agent="harness"``, ``metadata["event"] = "format_error"`` and ``metadata["harness_feedback"] = True``:
  it was sent to the model as a user message, but it is neither the user nor a tool's result;
* the call whose output the harness takes as the run's submission is marked ``metadata["ends_run"] = True``
  (its result ``metadata["submission"] = True``): the run ends there by design, not cut off;
* ``info.exit_status`` ends the run as an ``event`` step with ``metadata["event"] = "exit_status"``.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mastlens.adapters.base import AdapterError, head_text, json_reason, open_trace, plain_name
from mastlens.adapters.jsonstream import first_record_keys
from mastlens.trace import StepKind
from mastlens.adapters.steps import StepBuilder

#: how much of a submitted patch a trace keeps in its metadata (head and tail), and of a submission step
SUBMISSION_CHARS = 8_000
SUBMISSION_STEP_CHARS = 20_000
HARNESS = "harness"
KEY_SCAN_BYTES = 64 << 20  # a trajectory's top-level keys are looked for this far at most

_STRUCT = re.compile(r'[{}\[\]"]')
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)


def is_named(path: Path, suffix: str) -> bool:
    """Whether a file's name (without ``.gz``) ends with ``suffix`` (``.traj.json``, ``.traj``)."""
    return plain_name(path).lower().endswith(suffix) and len(plain_name(path)) > len(suffix)


def sniff_trajectory(path: Path, head: bytes, suffix: str, keys_fit: Callable[[list[str]], bool]) -> bool:
    """Whether a file is a trajectory: a JSON object named ``*suffix``, or one whose top-level keys seen in
    the head (``[]`` when none could be read) satisfy ``keys_fit``."""
    text = head_text(head)
    if not text.startswith("{"):
        return False
    if is_named(path, suffix):
        return True
    return keys_fit(first_record_keys(text) or [])


def instance_of(path: Path, suffix: str) -> str:
    """The instance id a trajectory's name carries: ``django__django-1.traj.json.gz`` -> ``django__django-1``."""
    name = plain_name(path)
    return name[: -len(suffix)] if name.lower().endswith(suffix) else Path(name).stem


def top_level_keys(path: Path, limit: int = KEY_SCAN_BYTES) -> list[str]:
    """The top-level keys of a JSON object file, streaming: a value of any size before a key (a 2 MB
    patch in ``info``) is skipped without holding it. Stops at the object's end or after ``limit`` bytes;
    an unreadable or non-object file gives what was found (``[]`` for none)."""
    try:
        with open_trace(path) as fh:
            return _scan_keys(fh, limit)
    except (AdapterError, OSError, UnicodeDecodeError):
        return []


def _scan_keys(fh: IO[bytes], limit: int) -> list[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    keys: list[str] = []
    depth = 0
    in_string = False
    string = ""  # the string being read, kept only at depth 1 (where it may be a key)
    started = False
    read = 0
    while read < limit:
        raw = fh.read(1 << 16)
        if not raw:
            break
        read += len(raw)
        text = decoder.decode(raw)
        pos = 0
        while pos < len(text):
            if in_string:
                end = _STRING_BODY.match(text, pos).end()
                if depth == 1 and len(string) < 256:
                    string += text[pos:end]
                if end < len(text) and text[end] == '"':
                    in_string, pos = False, end + 1
                    if depth == 1 and _next_is_colon(text, pos):
                        keys.append(string)
                    continue
                if end < len(text):  # a backslash at the chunk's end: keep it with the next chunk
                    more = fh.read(1 << 16)
                    if not more:
                        return keys
                    read += len(more)
                    text, pos = text[end:] + decoder.decode(more), 0
                    continue
                break
            found = _STRUCT.search(text, pos)
            if found is None:
                break
            ch = found.group()
            pos = found.end()
            if not started:
                if ch != "{" or text[: found.start()].strip(" \t\r\n\ufeff"):
                    return []
                started = True
            if ch == '"':
                in_string, string = True, ""
            elif ch in "{[":
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    return keys
    return keys


def _next_is_colon(text: str, pos: int) -> bool:
    rest = text[pos:pos + 64].lstrip(" \t\r\n")
    return rest.startswith(":") or not rest  # at a chunk's end: a key is the likelier reading at depth 1


def load_whole(path: Path) -> Any:
    """A whole JSON file (decompressed), like :func:`~mastlens.adapters.base.load_json`, saying so when the
    file ends inside a value (a trajectory cut mid-file)."""
    with open_trace(path) as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError(f"invalid UTF-8 at byte {exc.start}", line=raw[: exc.start].count(b"\n") + 1) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the file ends there: truncated?)" if exc.pos >= len(text.rstrip()) - 1 or "Unterminated" in exc.msg \
            else ""
        raise AdapterError(f"invalid JSON: {json_reason(exc)} (column {exc.colno}){cut}", line=exc.lineno) from None


def bounded(text: str, limit: int) -> str:
    """``text`` when short, else its head and tail around a note of what was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


def submission_metadata(submission: Any) -> dict[str, Any]:
    """The submitted patch as trace metadata: a bounded copy, its full size and its digest."""
    if not isinstance(submission, str) or not submission:
        return {"submission": None}
    meta: dict[str, Any] = {"submission": bounded(submission, SUBMISSION_CHARS), "submission_chars": len(submission)}
    if len(submission) > SUBMISSION_CHARS:
        meta["submission_sha256"] = hashlib.sha256(submission.encode("utf-8", "replace")).hexdigest()
    return meta


def model_stats(value: Any) -> dict[str, Any]:
    """``info.model_stats`` as a dict (some versions wrote its Python repr as a string)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return {}
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def stats_metrics(stats: dict[str, Any]) -> dict[str, Any]:
    """Model calls, cost and tokens of a run as outcome metrics (``api_calls``, ``cost``, ``tokens_sent``...)."""
    metrics: dict[str, Any] = {}
    for key, name in (("api_calls", "api_calls"), ("instance_cost", "cost"), ("tokens_sent", "tokens_sent"),
                      ("tokens_received", "tokens_received")):
        value = _number(stats.get(key))
        if value is not None:
            metrics[name] = value
    return metrics


def end_event(builder: StepBuilder, exit_status: Any) -> None:
    """The run's end as the harness recorded it (``Submitted``, ``LimitsExceeded``, an error name...)."""
    if exit_status in (None, ""):
        return
    status = str(exit_status)
    builder.add(StepKind.EVENT, f"run ended: {status}", agent=HARNESS,
                metadata={"event": "exit_status", "exit_status": status})


def harness_feedback(builder: StepBuilder, content: str, **meta: Any) -> None:
    """A harness reply to a rejected model reply (see the module docstring for the marking)."""
    builder.add(StepKind.EVENT, content, agent=HARNESS,
                metadata={"event": "format_error", "harness_feedback": True, "sent_as": "user", **meta})


def nested(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...`` or None where a level is missing or not a dict."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
