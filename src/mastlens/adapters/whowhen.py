"""Who&When failure-attribution logs (Zhang et al., "Which Agent Causes Task Failures and When?", 2025).

One JSON object per file. Algorithm-Generated records (CaptainAgent teams on AG2): ``history`` of
``{content, role, name}``, ``system_prompt`` ``{agent: prompt}``, ``is_correct``. Hand-Crafted records
(Magentic-One): ``history`` of ``{content, role}`` whose role names the speaker (``Orchestrator (thought)``,
``Orchestrator (-> WebSurfer)``, ``WebSurfer``, ``human``), ``is_corrected``. Both carry ``question``,
``ground_truth`` and the human attribution ``mistake_agent``, ``mistake_step`` (an index into
``history``) and ``mistake_reason``.

Trace id ``<Algorithm-Generated|Hand-Crafted>/<file stem>``. System prompts come first as system steps,
then one step per history message, each with ``metadata["history_index"]`` (its position in ``history``).
Code that an executor agent ran (``Computer_terminal`` / ``ComputerTerminal``) becomes a ``code_execution``
call after the message holding it, and the executor's reply its result with the exit code it states
(:mod:`mastlens.adapters.executions`; the call carries the message's ``history_index`` too). The attribution
is kept in ``metadata["attribution"]`` with ``step`` = our index of the first step of the decisive message
(``history_index`` = the source's own number). Magentic-One's "(termination condition)" notices are events
(``metadata["event"] = "termination_condition"``): the framework stopping the run, not an agent speaking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, load_json, trace_stem
from mastlens.adapters.executions import exit_status, pair_executions
from mastlens.adapters.steps import StepBuilder, as_text
from mastlens.adapters.whowhen_labels import attribution_labels, attribution_metadata
from mastlens.trace import Outcome, Source, StepKind, Trace

ALGORITHM_GENERATED = "Algorithm-Generated"
HAND_CRAFTED = "Hand-Crafted"
_SPEAKER = re.compile(r"^\s*(?P<agent>[^()]+?)\s*(?:\((?P<note>[^)]*)\))?\s*$")
_TOOL_AGENTS = {"computerterminal"}  # Computer_terminal (AG2), ComputerTerminal (Magentic-One), lowercased, no "_"
# The executor's reply when the message before it held no code: nothing ran, so it is an event, not a result.
_NOTHING_RAN = re.compile(r"^\s*There is no code from the last \d+ message", re.IGNORECASE)
_USER_ROLES = {"human", "user"}
_HISTORY_FIRST = re.compile(r'^\{\s*"history"\s*:\s*\[\s*\{\s*"(content|role|name)"\s*:')
_MARKERS = ('"mistake_agent"', '"mistake_step"', '"mistake_reason"', '"question_ID"', '"ground_truth"',
            '"is_correct"', '"is_corrected"')


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _category(path: Path, record: dict[str, Any]) -> str:
    for part in reversed(path.parts[:-1]):
        if part in (ALGORITHM_GENERATED, HAND_CRAFTED):
            return part
    named = any(isinstance(m, dict) and m.get("name") for m in record.get("history") or [])
    return ALGORITHM_GENERATED if named or "system_prompt" in record else HAND_CRAFTED


def _message_step(builder: StepBuilder, message: dict[str, Any], position: int) -> None:
    role = str(message.get("role") or "")
    name = message.get("name")
    speaker = str(name) if name else role
    m = _SPEAKER.match(speaker)
    agent = m.group("agent") if m else speaker
    meta: dict[str, Any] = {"history_index": position, "speaker": speaker}
    if m and m.group("note"):
        note = m.group("note").strip()
        if note.startswith("->"):
            meta["addressed_to"] = note[2:].strip()
        else:
            meta["channel"] = note
    content = as_text(message.get("content"))
    if meta.get("channel") == "termination condition":  # Magentic-One's own stop notice, not an agent's turn
        builder.add(StepKind.EVENT, content, agent=agent, metadata={**meta, "event": "termination_condition"})
    elif not name and role.lower() in _USER_ROLES:
        builder.add(StepKind.USER, content, agent=agent, metadata=meta)
    elif agent.lower().replace("_", "") in _TOOL_AGENTS:
        if _NOTHING_RAN.match(content):
            builder.add(StepKind.EVENT, content, agent=agent, metadata={**meta, "event": "nothing_to_execute"})
        else:
            builder.result(content, agent=agent, metadata={**meta, **exit_status(content)})
    else:
        builder.add(StepKind.ASSISTANT, content, agent=agent, metadata=meta)


class WhoWhenAdapter(Adapter):
    name = "whowhen"
    description = "Who&When multi-agent failure-attribution logs (history + mistake_agent/step/reason)"
    detects = ('a JSON object opening with a "history" message list, or with "history" and two of mistake_agent, '
               "mistake_step, mistake_reason, question_ID, ground_truth, is_correct(ed)")
    outcome = "is_correct (true/false) as the source's success flag, and score 1/0"
    priority = 30
    extensions = (".json",)

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if _HISTORY_FIRST.match(text):  # Hand-Crafted files open with the history; labels may lie past the head
            return True
        return text.startswith("{") and '"history"' in text and sum(m in text for m in _MARKERS) >= 2

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        record = load_json(path)
        if not isinstance(record, dict) or not isinstance(record.get("history"), list):
            raise AdapterError("not a Who&When record: expected an object with a history list")
        category = _category(path, record)
        builder = StepBuilder()
        prompts = record.get("system_prompt")
        for agent, prompt in (prompts.items() if isinstance(prompts, dict) else []):
            builder.add(StepKind.SYSTEM, as_text(prompt), agent=str(agent), metadata={"source": "system_prompt"})
        for position, message in enumerate(record["history"]):
            if not isinstance(message, dict):
                raise AdapterError(f"history entry {position} is not an object", record=position)
            _message_step(builder, message, position)
        steps = pair_executions(builder.steps)

        attribution = attribution_metadata(record, steps, _index(record.get("mistake_step")), ctx)
        correct = _flag(record.get("is_correct", record.get("is_corrected")))
        outcome = Outcome(success=correct, score=None if correct is None else float(correct),
                          success_from="source" if correct is not None else None)
        metadata = {
            "subset": category, "question_id": record.get("question_ID"), "level": record.get("level"),
            "ground_truth": record.get("ground_truth"), "attribution": attribution,
        }
        labels = attribution_labels(f"{category}/{path.stem}", attribution, correct)
        if labels is not None:
            ctx.labels.append(labels)
        yield Trace(
            id=f"{category}/{trace_stem(path)}", source=Source(format=self.name, path=str(path)),
            system="ag2-captainagent" if category == ALGORITHM_GENERATED else "magentic-one",
            task=as_text(record.get("question")) or None, steps=steps,
            outcome=ctx.success_rule.apply(outcome), metadata={k: v for k, v in metadata.items() if v is not None},
        )


ADAPTER = WhoWhenAdapter()
