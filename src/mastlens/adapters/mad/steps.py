"""Steps from the raw multi-agent logs of MAST-Data (MAD).

A MAD trace is whatever its system logged: a JSON document (HyperAgent and AG2 runs with a
``problem_statement`` and a ``trajectory`` of log lines or messages; MetaGPT runs with a ``prompt`` and a
``content`` log) or plain text. Where the text carries speaker markers of a known framework (AppWorld's
"Response from X Agent", HyperAgent's "Planner's Response:" and its session starts, ChatDev's "[time INFO] Role: **...",
MetaGPT's "Alice(SimpleCoder):" and "NEW MESSAGES:", Magentic-One's "---------- WebSurfer ----------",
OpenManus' tool markers) the log is cut there, one step per turn; otherwise it is one step. Execution
output with no call of its own (AppWorld's "Code Execution Output") is paired with the turn whose code
ran (:func:`mastlens.adapters.executions.pair_executions`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mastlens.adapters.executions import pair_executions
from mastlens.adapters.steps import content_text
from mastlens.adapters.codex.output import parse_arguments
from mastlens.trace import Step, StepKind, renumber

_LOGURU = r"\d{4}-\d\d-\d\d [\d:.]+ \| \w+ *\| \S+ - "
# Line starts that open a turn, with the kind of step they open. Named groups: agent (who speaks),
# to (whom), tool (a tool's name).
_MARKERS: list[tuple[str, StepKind]] = [
    (r"[ \t]*Response from (?P<agent>[\w ]+? Agent)[ \t]*$", StepKind.ASSISTANT),  # AppWorld
    (r"[ \t]*Message to (?P<to>[\w ]+? Agent)[ \t]*$", StepKind.USER),
    (r"[ \t]*Code Execution Output[ \t]*$", StepKind.TOOL_RESULT),
    (r"[ \t]*Response from (?P<tool>\w+) API[ \t]*$", StepKind.TOOL_RESULT),
    (r"HyperAgent_\S+ - \w+ - (?P<agent>[\w-]+)'s Response:", StepKind.ASSISTANT),
    (r"HyperAgent_\S+ - \w+ - (?P<agent>\w+)->(?P<to>\w+):", StepKind.ASSISTANT),
    (r"HyperAgent_\S+ - \w+ - Initialized HyperAgent instance\b", StepKind.EVENT),  # the harness (re)starts a session
    (r"\[[\d\- :]+ [A-Z]+\] (?P<agent>[A-Z][A-Za-z ]{1,40}): \*\*", StepKind.ASSISTANT),  # ChatDev
    (_LOGURU + r"(?P<agent>\w+\(\w+\)): ", StepKind.ASSISTANT),  # MetaGPT
    (r"\[[\d\- :]+\] FROM: (?P<agent>\w+) TO:", StepKind.ASSISTANT),
    (r"\[[\d\- :]+\] NEW MESSAGES:\s*\n\s*(?P<agent>\w+):", StepKind.ASSISTANT),
    (r"-{5,} (?P<agent>[\w.-]+) -{5,}[ \t]*$", StepKind.ASSISTANT),  # Magentic-One
    (_LOGURU + r"✨ (?P<agent>\w+)'s thoughts:", StepKind.ASSISTANT),  # OpenManus
    (_LOGURU + r"🧰 Tools being prepared: \['(?P<tool>\w+)'", StepKind.TOOL_CALL),
    (_LOGURU + r"🎯 Tool '(?P<tool>\w+)' completed", StepKind.TOOL_RESULT),
]
# One alternation, so a log is scanned once: alternative i is group m<i>, its groups m<i>_<name>. It
# starts with a newline rather than "^": a literal start lets the regex engine jump from line to line.
_MARKER = re.compile("\n(?:" + "|".join(
    f"(?P<m{i}>" + re.sub(r"\(\?P<(\w+)>", rf"(?P<m{i}_\1>", pattern) + ")" for i, (pattern, _) in enumerate(_MARKERS)
) + ")", re.M)
_TOOL_ARGS = re.compile(r"Tool arguments: (\{.*\})[ \t]*$", re.M)
_USER_AGENTS = {"human", "user"}


@dataclass
class ParsedLog:
    """What a raw MAD trace says: its steps, the task text when the log states it, and extra facts."""

    steps: list[Step]
    task_text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _kind_for(agent: str | None, kind: StepKind) -> StepKind:
    if agent and agent.lower() in _USER_AGENTS:
        return StepKind.USER
    if agent == "System":
        return StepKind.SYSTEM
    return kind


def split_text(text: str) -> list[Step]:
    """One step per speaker turn where markers are found (two or more), else one event step."""
    marks: list[tuple[int, StepKind, dict[str, str]]] = []
    for m in _MARKER.finditer("\n" + text):  # match positions are one past those in text
        alt = m.lastgroup or ""
        prefix = f"{alt}_"
        groups = {k[len(prefix):]: v for k, v in m.groupdict().items() if v and k.startswith(prefix)}
        marks.append((m.start(), _MARKERS[int(alt[1:])][1], groups))
    if len(marks) < 2:
        return [Step(index=0, kind=StepKind.EVENT, content=text.strip())] if text.strip() else []
    steps = []
    if text[: marks[0][0]].strip():
        steps.append(Step(index=0, kind=StepKind.EVENT, content=text[: marks[0][0]].strip()))
    for i, (start, kind, groups) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        body = text[start:end].strip()
        if not body:
            continue
        agent = groups.get("agent")
        step = Step(index=0, kind=_kind_for(agent, kind), agent=agent, tool=groups.get("tool"), content=body)
        if "to" in groups:
            step.metadata["to"] = groups["to"]
        if kind is StepKind.EVENT:  # the one event marker: HyperAgent starting a session
            step.metadata["event"] = "session_start"
        if kind is StepKind.TOOL_CALL:
            args = _TOOL_ARGS.search(body)
            step.arguments = parse_arguments(args.group(1)) if args else None
        steps.append(step)
    return steps


def _message_steps(messages: list[dict[str, Any]]) -> list[Step]:
    """AG2-style ``{content, role, name}`` messages: the speaker is ``name``; the first one poses the task."""
    steps = []
    for i, msg in enumerate(messages):
        content = msg.get("content")
        text = "\n".join(str(c) for c in content) if isinstance(content, list) else content_text(content, name_other_parts=True)
        agent = msg.get("name") if isinstance(msg.get("name"), str) else msg.get("role")
        kind = StepKind.USER if i == 0 else _kind_for(agent, StepKind.ASSISTANT)
        steps.append(Step(index=0, kind=kind, agent=agent, content=text, metadata={"role": msg.get("role")}))
    return steps


def _from_document(doc: dict[str, Any]) -> ParsedLog:
    problem = doc.get("problem_statement", doc.get("prompt"))
    task_text = "\n".join(map(str, problem)) if isinstance(problem, list) else problem if isinstance(problem, str) else None
    log = doc.get("trajectory", doc.get("content"))
    if isinstance(log, list) and log and all(isinstance(m, dict) for m in log):
        steps = _message_steps(log)
    elif isinstance(log, list):
        steps = split_text("\n".join(str(line) for line in log))
    else:
        steps = split_text(log if isinstance(log, str) else json.dumps(log, ensure_ascii=False))
    if task_text and not (steps and steps[0].kind is StepKind.USER):
        steps.insert(0, Step(index=0, kind=StepKind.USER, content=task_text))
    meta: dict[str, Any] = {k: doc[k] for k in ("instance_id", "run_id") if k in doc}
    other = doc.get("other_data")
    if isinstance(other, dict) and isinstance(other.get("correct"), bool):
        meta["correct"] = other["correct"]
    return ParsedLog(steps, task_text, meta)


def parse_log(raw: Any) -> ParsedLog:
    """Steps (numbered from 0) for a MAD trace: a JSON document, a message list, or log text."""
    doc = raw
    if isinstance(raw, str) and raw.lstrip()[:1] in ("{", "["):
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = raw
    if isinstance(doc, dict):
        parsed = _from_document(doc)
    elif isinstance(doc, list) and doc and all(isinstance(m, dict) for m in doc):
        parsed = ParsedLog(_message_steps(doc))
    else:
        parsed = ParsedLog(split_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)))
    parsed.steps = pair_executions(parsed.steps, unfenced=True)
    return parsed
