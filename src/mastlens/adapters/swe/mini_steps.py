"""The steps of a mini-swe-agent trajectory's ``messages``, for both trajectory formats.

* ``mini-swe-agent-1`` (mini-swe-agent 1.x): the command is the reply's one fenced block matching the
  run's ``action_regex`` (default ```` ```bash ````); the harness answers in a user message
  ``<returncode>N</returncode>`` + ``<output>`` (or a ``<warning>`` with head and tail), a timeout notice, a
  format error, or, at the end of a submitted run, the submission itself.
* ``mini-swe-agent-1.1`` (2.x): the parsed commands are in the reply's ``extra.actions``
  (``[{"command": ...}]``), the exit status also in the answer's ``extra.returncode``, and the run ends on a
  message whose ``extra`` holds ``exit_status`` and ``submission``. With a tool-calling model the reply
  carries ``tool_calls`` and each answer is a ``tool`` message with its ``tool_call_id``.

Conventions (tool calls, harness feedback, end event) are those of :mod:`mastlens.adapters.swe.common`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from mastlens.adapters.base import AdapterError
from mastlens.adapters.codex.output import parse_arguments
from mastlens.adapters.steps import StepBuilder, content_text
from mastlens.adapters.swe.common import (
    HARNESS, SUBMISSION_STEP_CHARS, bounded, end_event, harness_feedback, nested,
)
from mastlens.trace import StepKind

DEFAULT_ACTION_REGEX = r"```bash\s*\n(.*?)\n```"
_RETURNCODE = re.compile(r"\A\s*<returncode>(.*?)</returncode>\s*", re.DOTALL)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)\n?```", re.DOTALL)
_DEFAULT_FORMAT_ERROR = "Please always provide EXACTLY ONE action"
_DEFAULT_TIMEOUT = "The last command <command>"


def _template_head(template: Any, default: str) -> str:
    """The fixed text a harness template starts with (up to its first variable)."""
    if not isinstance(template, str):
        return default
    head = re.split(r"\{\{|\{%", template, maxsplit=1)[0].strip()
    return head[:80] if len(head) >= 12 else default


def _timestamp(extra: Any) -> str | None:
    created = nested(extra, "timestamp")
    created = created if created is not None else nested(extra, "response", "created")
    if isinstance(created, (int, float)) and not isinstance(created, bool) and created > 0:
        return datetime.fromtimestamp(created, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return None


def _reasoning(message: dict[str, Any]) -> str | None:
    text = message.get("reasoning_content")
    if not isinstance(text, str):
        choices = nested(message.get("extra"), "response", "choices")
        first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        text = nested(first, "message", "reasoning")
    return text if isinstance(text, str) and text.strip() else None


def _tokens(extra: Any) -> int | None:
    tokens = nested(extra, "response", "usage", "completion_tokens")
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


def _plain_output(body: str) -> str | None:
    """The text inside a result's single ``<output>...</output>``, or None when the body is shaped otherwise."""
    body = body.strip()
    if not (body.startswith("<output>") and body.endswith("</output>")) or body.count("<output>") != 1:
        return None
    inner = body[len("<output>"):-len("</output>")]
    return inner.removeprefix("\n").removesuffix("\n")


def _is_end(message: dict[str, Any]) -> bool:
    """The message 2.x ends a run with (role ``exit`` or ``user``, ``extra.exit_status``)."""
    return message.get("role") == "exit" or isinstance(nested(message, "extra", "exit_status"), str)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else content_text(content)


class MiniReader:
    """Steps of one trajectory, with the problems found on the way (reported as issues by the caller)."""

    def __init__(self, info: dict[str, Any]):
        self.info = info
        agent_config = nested(info, "config", "agent")
        agent_config = agent_config if isinstance(agent_config, dict) else {}
        self.problems: list[str] = []
        self.action = re.compile(DEFAULT_ACTION_REGEX, re.DOTALL)
        regex = agent_config.get("action_regex") or nested(info, "config", "model", "action_regex")
        if isinstance(regex, str):  # the run's own action pattern
            try:
                self.action = re.compile(regex, re.DOTALL)
            except re.error as exc:
                self.problems.append(f"the action_regex does not compile ({exc}); the default is used")
        self.format_error = _template_head(agent_config.get("format_error_template")
                                           or nested(info, "config", "model", "format_error_template"),
                                           _DEFAULT_FORMAT_ERROR)
        self.timeout = _template_head(agent_config.get("timeout_template"), _DEFAULT_TIMEOUT)
        self.submitted = str(info.get("exit_status") or "") == "Submitted"
        self.builder = StepBuilder()
        self.commands = 0

    def read(self, messages: list[Any]) -> StepBuilder:
        b = self.builder
        started = False
        i = 0
        while i < len(messages):
            message = messages[i]
            if not isinstance(message, dict):
                raise AdapterError(f"messages[{i}] is not an object")
            role, text = message.get("role"), _text(message)
            if role == "system":
                b.add(StepKind.SYSTEM, text)
            elif role == "assistant":
                started = True
                i = self._turn(messages, i)
                continue
            elif _is_end(message):
                pass  # the run's end (2.x): the end event below says it
            elif started:  # once the agent works, "user" messages are the harness's (a stop's message, or empty)
                if text.strip():
                    b.add(StepKind.EVENT, text, agent=HARNESS, metadata={"event": "harness_message", "sent_as": "user"})
            else:
                b.add(StepKind.USER, text)
            i += 1
        end_event(b, self.info.get("exit_status"))
        return b

    # -- one reply and the harness's answers to it -------------------------------------------------------
    def _commands(self, message: dict[str, Any], text: str) -> tuple[list[tuple[str, str | None]], str]:
        """The reply's commands as (command, source call id), and how they were found."""
        actions = nested(message.get("extra"), "actions")
        if isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions):
            return [(str(a.get("command", "")), a.get("tool_call_id")) for a in actions], "actions"
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            found = []
            for call in calls:
                args = parse_arguments(nested(call, "function", "arguments"))
                command = args.get("command") if isinstance(args, dict) else args
                found.append((str(command or ""), call.get("id") if isinstance(call, dict) else None))
            return found, "tool_calls"
        return [(m.group(1).strip(), None) for m in self.action.finditer(text)], "blocks"

    def _turn(self, messages: list[Any], i: int) -> int:
        b = self.builder
        message = messages[i]
        text = _text(message)
        extra = message.get("extra")
        ts = _timestamp(extra)
        commands, how = self._commands(message, text)
        j = i + 1
        answer_role = "tool" if isinstance(message.get("tool_calls"), list) and message["tool_calls"] else "user"
        answers: list[tuple[int, dict[str, Any]]] = []
        while j < len(messages) and isinstance(messages[j], dict) and (
                messages[j].get("role") == answer_role or _is_end(messages[j])):
            answers.append((j, messages[j]))
            j += 1
            if answer_role == "user" or _is_end(messages[j - 1]):
                break
        reasoning = _reasoning(message)
        if reasoning:
            b.add(StepKind.REASONING, reasoning, timestamp=ts)
        first = _text(answers[0][1]) if answers else ""
        rejected = bool(answers) and self.format_error in first[:400]
        ending = bool(answers) and _is_end(answers[0][1])
        if not answers or rejected or (ending and not commands):
            b.add(StepKind.ASSISTANT, text, timestamp=ts, tokens=_tokens(extra),
                  metadata={"rejected": True, "actions": len(commands)} if rejected else {})
            if rejected:
                harness_feedback(b, first, actions=len(commands))
            return j if not ending else j - 1  # the end message is read as the run's end
        if how == "blocks" and len(commands) != 1:
            self.problems.append(f"messages[{i}]: the harness ran a command but the reply has {len(commands)} "
                                 f"bash blocks (one expected); {'the first is taken' if commands else 'no call'}")
            commands = commands[:1]
        shown = {c for c, _ in commands}
        thought = _FENCE.sub(lambda m: "" if m.group(1).strip() in shown else m.group(0), text).strip()
        if thought:
            b.add(StepKind.ASSISTANT, thought, timestamp=ts, tokens=_tokens(extra))
        if not commands:
            for index, answer in answers:
                self._result(index, answer, None, False)
            return j
        unused = list(answers)  # answered by tool_call_id where both say one, else in order
        by_id = {a.get("tool_call_id"): (k, a) for k, a in answers if isinstance(a.get("tool_call_id"), str)}
        for n, (command, source_id) in enumerate(commands):
            self.commands += 1
            call_id = f"cmd-{self.commands}"
            meta = {"source_call_id": source_id} if isinstance(source_id, str) else {}
            b.add(StepKind.TOOL_CALL, command, tool="bash", arguments={"command": command}, call_id=call_id,
                  timestamp=ts, metadata=meta)
            answer = by_id.get(source_id) if source_id in by_id and by_id[source_id] in unused else \
                (unused[0] if unused else None)
            if answer is not None:
                unused.remove(answer)
                self._result(answer[0], answer[1], call_id, j >= len(messages) and n == len(commands) - 1)
        for index, answer in unused:
            self._result(index, answer, None, False)
        return j

    def _result(self, index: int, answer: dict[str, Any], call_id: str | None, last: bool) -> None:
        text = _text(answer)
        extra = answer.get("extra") if isinstance(answer.get("extra"), dict) else {}
        meta: dict[str, Any] = {}
        body = text
        code = _RETURNCODE.match(text)
        given = extra.get("returncode")
        if isinstance(given, int) and not isinstance(given, bool):
            meta["exit_code"] = given
        if code:
            raw = code.group(1).strip()
            body = text[code.end():]
            try:
                meta.setdefault("exit_code", int(raw))
            except ValueError:
                if "exit_code" not in meta:
                    self.problems.append(f"messages[{index}]: <returncode> is not a number ({raw[:40]!r}); "
                                         "the result is kept without an exit status")
            plain = _plain_output(body)
            if plain is not None:
                body = plain
            elif "<warning>" in body[:200]:
                meta["output_cut"] = True
        elif text.startswith(self.timeout):
            meta["timed_out"] = True
        elif isinstance(extra.get("exit_status"), str) or (last and self.submitted):
            submission = extra.get("submission")
            body = submission if isinstance(submission, str) and not text.strip() else text
            meta["submission"] = True
            if call_id is not None:  # the call: its output is what the run submits
                self.builder.steps[-1].metadata["ends_run"] = True
            if len(body) > SUBMISSION_STEP_CHARS:
                meta["submission_chars"] = len(body)
                body = bounded(body, SUBMISSION_STEP_CHARS)
        if meta.get("exit_code", 0) != 0 or meta.get("timed_out"):
            meta["is_error"] = True
        self.builder.result(body, call_id, tool="bash", metadata=meta)
