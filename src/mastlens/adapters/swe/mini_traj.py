"""mini-swe-agent trajectories (``<id>.traj.json``, also gzipped; ``"trajectory_format": "mini-swe-agent-1"``).

The file is ``{info, messages, trajectory_format, instance_id}``. ``messages`` is the chat the model saw:
the system prompt and the task (first user message), then each assistant reply (a THOUGHT and one
fenced ``bash`` block) answered by a user message from the harness: the command's result
(``<returncode>N</returncode>`` + ``<output>`` or, for long output, a ``<warning>`` with its head and
tail), a timeout notice, or a format error when the reply held no or several blocks. The last user
message of a submitted run is the submit command's output (the patch).

Mapping (conventions in :mod:`mastlens.adapters.swe.common`): each executed reply is an ``assistant``
step (its text without the executed block; the provider's reasoning, when logged, a ``reasoning`` step
before it), a ``bash`` tool call and its result; ``info.exit_status`` ends the run; ``info.submission``
is kept bounded; the model is ``info.config.model.model_name``; ``info.model_stats`` gives the outcome
metrics ``api_calls`` and ``cost``. Trace id ``<model without provider prefix>/<instance id>``, task = the
instance id. Success comes from a SWE-bench evaluation report (:mod:`mastlens.adapters.swe.reports`); a
trajectory alone has none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text
from mastlens.adapters.jsonstream import first_record_keys
from mastlens.adapters.steps import StepBuilder
from mastlens.adapters.swe.common import (
    SUBMISSION_STEP_CHARS, bounded, end_event, harness_feedback, instance_of, is_named, load_whole, model_stats,
    nested, stats_metrics, submission_metadata, top_level_keys,
)
from mastlens.adapters.swe.reports import attach_outcome
from mastlens.trace import Outcome, Source, StepKind, Trace
from mastlens.trace.model_names import normalize_model

SUFFIX = ".traj.json"
FORMAT_PREFIX = "mini-swe-agent"
DEFAULT_ACTION_REGEX = r"```bash\s*\n(.*?)\n```"
_RETURNCODE = re.compile(r"\A\s*<returncode>(.*?)</returncode>\s*", re.DOTALL)
_DEFAULT_FORMAT_ERROR = "Please always provide EXACTLY ONE action"
_DEFAULT_TIMEOUT = "The last command <command>"


def looks_like_mini(keys: list[str]) -> bool:
    return "messages" in keys and ("trajectory_format" in keys or "info" in keys)


def _template_head(template: Any, default: str) -> str:
    """The fixed text a harness template starts with (up to its first variable)."""
    if not isinstance(template, str):
        return default
    head = re.split(r"\{\{|\{%", template, maxsplit=1)[0].strip()
    return head[:80] if len(head) >= 12 else default


def _timestamp(extra: Any) -> str | None:
    created = nested(extra, "response", "created")
    if isinstance(created, (int, float)) and not isinstance(created, bool) and created > 0:
        return datetime.fromtimestamp(created, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return None


def _reasoning(extra: Any) -> str | None:
    choices = nested(extra, "response", "choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        text = nested(choices[0], "message", "reasoning")
        return text if isinstance(text, str) and text.strip() else None
    return None


def _tokens(extra: Any) -> int | None:
    tokens = nested(extra, "response", "usage", "completion_tokens")
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


class _Reader:
    """Steps of one trajectory, with the problems found on the way (reported as issues)."""

    def __init__(self, data: dict[str, Any], name: str):
        self.info = data.get("info") if isinstance(data.get("info"), dict) else {}
        agent_config = nested(self.info, "config", "agent") or {}
        regex = agent_config.get("action_regex") if isinstance(agent_config, dict) else None
        self.action = re.compile(regex if isinstance(regex, str) else DEFAULT_ACTION_REGEX, re.DOTALL)
        self.format_error = _template_head(agent_config.get("format_error_template"), _DEFAULT_FORMAT_ERROR)
        self.timeout = _template_head(agent_config.get("timeout_template"), _DEFAULT_TIMEOUT)
        self.name = name
        self.builder = StepBuilder()
        self.problems: list[str] = []
        self.commands = 0

    def steps(self, messages: list[Any]) -> StepBuilder:
        b = self.builder
        submitted = str(self.info.get("exit_status") or "") == "Submitted"
        i = 0
        while i < len(messages):
            message = messages[i]
            if not isinstance(message, dict):
                raise AdapterError(f"messages[{i}] is not an object")
            role, content = message.get("role"), message.get("content")
            text = content if isinstance(content, str) else _text(content)
            if role == "system":
                b.add(StepKind.SYSTEM, text)
            elif role == "assistant":
                reply = messages[i + 1] if i + 1 < len(messages) and isinstance(messages[i + 1], dict) else None
                answer = reply.get("content") if reply is not None and reply.get("role") == "user" else None
                answer = answer if isinstance(answer, str) or answer is None else _text(answer)
                last = i + 2 >= len(messages)
                self._assistant(i, text, message.get("extra"), answer, last and submitted)
                i += 2 if answer is not None else 1
                continue
            else:
                b.add(StepKind.USER, text)
            i += 1
        end_event(b, self.info.get("exit_status"))
        return b

    def _assistant(self, index: int, text: str, extra: Any, answer: str | None, submits: bool) -> None:
        b = self.builder
        ts = _timestamp(extra)
        reasoning = _reasoning(extra)
        if reasoning:
            b.add(StepKind.REASONING, reasoning, timestamp=ts)
        blocks = list(self.action.finditer(text))
        rejected = answer is not None and self.format_error in answer[:400]
        if answer is None or rejected:
            b.add(StepKind.ASSISTANT, text, timestamp=ts, tokens=_tokens(extra),
                  metadata={"rejected": True, "actions": len(blocks)} if rejected else {})
            if rejected:
                harness_feedback(b, answer, actions=len(blocks))
            return
        if len(blocks) != 1:
            self.problems.append(f"messages[{index}]: the harness ran a command but the reply has {len(blocks)} "
                                 f"bash blocks (one expected); {'the first is taken' if blocks else 'no call'}")
        if not blocks:
            b.add(StepKind.ASSISTANT, text, timestamp=ts, tokens=_tokens(extra))
            b.result(answer)
            return
        block = blocks[0]
        command = block.group(1).strip()
        thought = (text[: block.start()] + text[block.end():]).strip()
        if thought:
            b.add(StepKind.ASSISTANT, thought, timestamp=ts, tokens=_tokens(extra))
        self.commands += 1
        call_id = f"cmd-{self.commands}"
        b.add(StepKind.TOOL_CALL, command, tool="bash", arguments={"command": command}, call_id=call_id, timestamp=ts)
        self._result(index + 1, answer, call_id, submits)

    def _result(self, index: int, answer: str, call_id: str, submits: bool) -> None:
        meta: dict[str, Any] = {}
        body = answer
        code = _RETURNCODE.match(answer)
        if code:
            raw = code.group(1).strip()
            body = answer[code.end():]
            try:
                meta["exit_code"] = int(raw)
            except ValueError:
                self.problems.append(f"messages[{index}]: <returncode> is not a number ({raw[:40]!r}); "
                                     "the result is kept without an exit status")
            plain = _plain_output(body)
            if plain is not None:
                body = plain
            elif "<warning>" in body[:200]:
                meta["output_cut"] = True
            if meta.get("exit_code", 0) != 0:
                meta["is_error"] = True
        elif answer.startswith(self.timeout):
            meta.update(timed_out=True, is_error=True)
        elif submits:
            meta["submission"] = True
            if len(answer) > SUBMISSION_STEP_CHARS:
                meta["submission_chars"] = len(answer)
                body = bounded(answer, SUBMISSION_STEP_CHARS)
        self.builder.result(body, call_id, tool="bash", metadata=meta)


def _plain_output(body: str) -> str | None:
    """The text inside a result's single ``<output>...</output>``, or None when the body is shaped otherwise."""
    body = body.strip()
    if not (body.startswith("<output>") and body.endswith("</output>")) or body.count("<output>") != 1:
        return None
    inner = body[len("<output>"):-len("</output>")]
    return inner.removeprefix("\n").removesuffix("\n")


def _text(content: Any) -> str:
    """Message content given as a list of parts (newer mini-swe-agent versions) as text."""
    from mastlens.adapters.steps import content_text

    return content_text(content)


def read_trajectory(path: Path, ctx: ReadContext, format_name: str, *, where: str | None = None) -> Trace:
    """One mini-swe-agent trajectory file as a trace (outcome not attached). Problems inside it are recorded
    on ``ctx`` as issues (prefixed with ``where``, the file's place in a folder, when given)."""
    data = load_whole(path)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise AdapterError("not a mini-swe-agent trajectory: no messages list")
    reader = _Reader(data, path.name)
    builder = reader.steps(data["messages"])
    for problem in reader.problems:
        ctx.record_issue(f"{where}: {problem}" if where else problem)
    info = reader.info
    instance = data.get("instance_id") if isinstance(data.get("instance_id"), str) else instance_of(path, SUFFIX)
    model = nested(info, "config", "model", "model_name")
    if not isinstance(model, str) or not model.strip():
        model = next((nested(m.get("extra"), "response", "model") for m in data["messages"]
                      if isinstance(m, dict) and m.get("role") == "assistant"
                      and isinstance(nested(m.get("extra"), "response", "model"), str)), None)
    stats = model_stats(info.get("model_stats"))
    metadata: dict[str, Any] = {
        "instance_id": instance, "exit_status": info.get("exit_status"),
        "trajectory_format": data.get("trajectory_format"), "agent_version": info.get("mini_version"),
        "commands": reader.commands, **submission_metadata(info.get("submission")),
    }
    environment = nested(info, "config", "environment", "image")
    if isinstance(environment, str):
        metadata["environment_image"] = environment
    for key in ("step_limit", "cost_limit"):
        value = nested(info, "config", "agent", key)
        if value is not None:
            metadata[key] = value
    return Trace(
        id=f"{normalize_model(model)}/{instance}", source=Source(format=format_name, path=str(path)),
        system="mini-swe-agent", model=model, task=instance, steps=builder.steps,
        outcome=Outcome(metrics=stats_metrics(stats)), metadata=metadata,
    )


class MiniSweAgentAdapter(Adapter):
    name = "mini-swe-agent"
    description = ("mini-swe-agent trajectories (<instance>.traj.json, also .gz): each fenced bash command a tool "
                   "call with its exit status; format rejections as harness feedback")
    detects = ("a name ending in .traj.json, or a JSON object whose top-level keys (scanned past any size of "
               "info) include messages and trajectory_format")
    outcome = ("a SWE-bench evaluation report beside the run or given in the same ingest (sb-cli report, harness "
               "run report, logs/run_evaluation/**/report.json): resolved = success, unresolved = failed, "
               "error/empty patch = unknown; model_stats api_calls and cost as metrics")
    priority = 12
    extensions = (".json",)

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if not text.startswith("{"):
            return False
        if is_named(path, SUFFIX):
            return True
        keys = first_record_keys(text) or []
        if looks_like_mini(keys):
            return True
        # a first value larger than the head (a big info.submission): scan the keys through the file
        return keys[:1] == ["info"] and len(keys) == 1 and looks_like_mini(top_level_keys(path))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        trace = read_trajectory(path, ctx, self.name)
        yield attach_outcome(trace, path.parent, ctx)


ADAPTER = MiniSweAgentAdapter()
