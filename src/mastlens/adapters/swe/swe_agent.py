"""SWE-agent trajectories (``<instance>.traj``): ``{environment, trajectory, history, info, replay_config?}``.

``trajectory`` lists what ran: ``{action, observation, thought, response, state, execution_time}`` per
step. ``history`` is the chat the model saw: the system prompt, demonstrations (``is_demo``), the task,
then assistant messages (``thought``, ``action``; ``tool_calls`` in the function-calling variant) each
answered by an observation (role ``user``, or ``tool`` with ``tool_call_ids``).

Mapping (conventions in :mod:`mastlens.adapters.swe.common`): the history is walked beside the
trajectory; an assistant message whose action is the next trajectory step's ran: its thought is an
``assistant`` step, the action a ``bash`` tool call (``arguments={"command": action}``: SWE-agent's
commands, ``edit``/``open``/``submit`` as well, are shell functions; a function call's name and
arguments are kept in the call's metadata) and the observation its result (what the model saw, from
the history; the trajectory's own when the history lacks it). An assistant message that did not run
is a rejected reply and the harness's answer harness feedback. Without a history the trajectory
alone is read. SWE-agent observations carry no exit status. ``info.exit_status`` ends the run;
``info.submission`` is kept bounded; a step's ``state.open_file`` (the file SWE-agent's ``edit`` changes; older files
record the state before the action, newer ones after it, and an edit leaves it as it was) is the call's
``metadata["open_file"]``; the model is ``replay_config.agent.model.name`` where the file
has it (unknown otherwise: a folder name is no evidence); ``info.model_stats`` gives ``api_calls``,
``cost`` and tokens. Trace id ``<model>/<instance id>`` (the file name), task = the instance id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext
from mastlens.adapters.codex.output import parse_arguments
from mastlens.adapters.steps import StepBuilder, content_text
from mastlens.adapters.swe.common import (
    SUBMISSION_STEP_CHARS, bounded, end_event, harness_feedback, instance_of, load_whole, model_stats, sniff_trajectory,
    nested, stats_metrics, submission_metadata,
)
from mastlens.adapters.swe.reports import attach_outcome
from mastlens.trace import Outcome, Source, StepKind, Trace
from mastlens.trace.model_names import normalize_model

SUFFIX = ".traj"
_SUBMIT = "submit"


def _model(data: dict[str, Any]) -> str | None:
    config = data.get("replay_config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = None
    name = nested(config, "agent", "model", "name") or nested(config, "agent", "model", "model_name")
    return name if isinstance(name, str) and name.strip() else None


def _function(message: dict[str, Any]) -> tuple[str | None, Any, str | None]:
    """(name, arguments, id) of a function-calling message's first tool call."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        fn = calls[0].get("function") if isinstance(calls[0].get("function"), dict) else {}
        return fn.get("name"), parse_arguments(fn.get("arguments")), calls[0].get("id")
    return None, None, None


def _open_file(state: Any) -> str | None:
    """The file open in SWE-agent's editor after a step (``state.open_file``; a JSON string in older files)."""
    if isinstance(state, str):
        try:
            state = json.loads(state)
        except ValueError:
            return None
    value = state.get("open_file") if isinstance(state, dict) else None
    return value if isinstance(value, str) and value.strip() and value.strip() != "n/a" else None


class _Reader:
    def __init__(self, trajectory: list[Any]):
        self.trajectory = [s for s in trajectory if isinstance(s, dict)]
        self.builder = StepBuilder()
        self.next = 0  # the next trajectory step to meet in the history
        self.ids: set[str] = set()

    def _ran(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if self.next >= len(self.trajectory):
            return None
        step = self.trajectory[self.next]
        action = message.get("action")
        if isinstance(action, str) and action.strip() == str(step.get("action") or "").strip():
            self.next += 1
            return step
        return None

    def _call(self, step: dict[str, Any], thought: str, observation: str, function: tuple[Any, Any, Any]) -> None:
        b = self.builder
        if thought.strip():
            b.add(StepKind.ASSISTANT, thought.strip())
        action = str(step.get("action") or "").strip()
        name, arguments, source_id = function
        call_id = source_id if isinstance(source_id, str) and source_id not in self.ids else f"action-{self.next}"
        self.ids.add(call_id)
        meta: dict[str, Any] = {}
        if name:
            meta.update(function=name, function_arguments=arguments)
        if isinstance(source_id, str) and source_id != call_id:
            meta["source_call_id"] = source_id
        submits = action.split(maxsplit=1)[:1] == [_SUBMIT]
        if submits:
            meta["ends_run"] = True
        open_file = _open_file(step.get("state"))
        if open_file:
            meta["open_file"] = open_file
        b.add(StepKind.TOOL_CALL, action, tool="bash", arguments={"command": action}, call_id=call_id, metadata=meta)
        result: dict[str, Any] = {}
        seconds = step.get("execution_time")
        try:
            result["duration_s"] = float(seconds) if seconds is not None else None
        except (TypeError, ValueError):
            pass
        if submits and len(observation) > SUBMISSION_STEP_CHARS:
            result.update(submission=True, submission_chars=len(observation))
            observation = bounded(observation, SUBMISSION_STEP_CHARS)
        elif submits:
            result["submission"] = True
        b.result(observation, call_id, tool="bash", metadata={k: v for k, v in result.items() if v is not None})

    def from_history(self, history: list[Any]) -> None:
        b = self.builder
        i = 0
        while i < len(history):
            message = history[i]
            if not isinstance(message, dict):
                raise AdapterError(f"history[{i}] is not an object")
            role = message.get("role")
            text = content_text(message.get("content"))
            if role == "system":
                b.add(StepKind.SYSTEM, text)
            elif role == "assistant":
                answer = history[i + 1] if i + 1 < len(history) and isinstance(history[i + 1], dict) \
                    and history[i + 1].get("role") in ("user", "tool") else None
                ran = self._ran(message)
                if ran is not None:
                    seen = content_text(answer.get("content")) if answer is not None else None
                    thought = message.get("thought") if isinstance(message.get("thought"), str) else text
                    self._call(ran, thought, seen if seen is not None else str(ran.get("observation") or ""),
                               _function(message))
                else:
                    b.add(StepKind.ASSISTANT, text, metadata={"rejected": True} if answer is not None else {})
                    if answer is not None:
                        harness_feedback(b, content_text(answer.get("content")))
                i += 2 if answer is not None else 1
                continue
            else:
                b.add(StepKind.USER, text, metadata={"demonstration": True} if message.get("is_demo") else {})
            i += 1

    def rest_of_trajectory(self) -> None:
        """Trajectory steps the history did not show (or all of them, without a history)."""
        while self.next < len(self.trajectory):
            step = self.trajectory[self.next]
            self.next += 1
            thought = step.get("thought") if isinstance(step.get("thought"), str) else str(step.get("response") or "")
            self._call(step, thought, str(step.get("observation") or ""), (None, None, None))


class SweAgentAdapter(Adapter):
    name = "swe-agent"
    description = ("SWE-agent trajectories (<instance>.traj; classic thought + command and function calling): each "
                   "executed action a tool call, rejected replies as harness feedback")
    detects = "a name ending in .traj, or a JSON object whose top-level keys include trajectory and history or info"
    outcome = ("a SWE-bench evaluation report beside the file or given in the same ingest (as for mini-swe-agent); "
               "model_stats api_calls, cost and tokens as metrics")
    priority = 12
    extensions = (".traj", ".json")

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_trajectory(path, head, SUFFIX,
                                lambda keys: "trajectory" in keys and ("history" in keys or "info" in keys))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        data = load_whole(path)
        if not isinstance(data, dict) or not isinstance(data.get("trajectory"), list):
            raise AdapterError("not a SWE-agent trajectory: no trajectory list")
        reader = _Reader(data["trajectory"])
        history = data.get("history")
        if isinstance(history, list):
            reader.from_history(history)
            if reader.trajectory and not reader.next:  # no action of the history ran: they do not line up
                ctx.notes.append("no assistant message of the history matches a trajectory action: the steps are "
                                 "read from the trajectory (after the history's opening messages)")
                reader = _Reader(data["trajectory"])
                opening = next((i for i, m in enumerate(history)
                                if isinstance(m, dict) and m.get("role") == "assistant"), len(history))
                reader.from_history(history[:opening])
        reader.rest_of_trajectory()
        info = data.get("info") if isinstance(data.get("info"), dict) else {}
        end_event(reader.builder, info.get("exit_status"))
        instance = instance_of(path, SUFFIX)
        model = _model(data)
        metadata: dict[str, Any] = {"instance_id": instance, "exit_status": info.get("exit_status"),
                                    "commands": len(reader.trajectory), **submission_metadata(info.get("submission"))}
        if isinstance(data.get("environment"), str):
            metadata["environment"] = data["environment"]
        trace = Trace(
            id=f"{normalize_model(model)}/{instance}", source=Source(format=self.name, path=str(path)),
            system="swe-agent", model=model, task=instance, steps=reader.builder.steps,
            outcome=Outcome(metrics=stats_metrics(model_stats(info.get("model_stats")))), metadata=metadata,
        )
        yield attach_outcome(trace, path.parent, ctx)


ADAPTER = SweAgentAdapter()
