"""tau2-bench Results files: ``{"timestamp", "info", "tasks", "simulations"}``.

One trace per simulation. ``info.environment_info.policy`` is the agent's system prompt (the first step),
``info.environment_info.domain_name`` the domain and ``info.agent_info.llm`` the agent's model; the user
simulator's model (``info.user_info.llm``) is metadata only, never the trace's model. Messages keep their
order: ``user`` / ``assistant`` turns, ``tool_calls`` (``{id, name, arguments, requestor}``, arguments an
object) and ``tool`` results, whose ``id`` is the call they answer and ``error`` their error flag. Tools
the user simulator calls (``requestor: "user"``, telecom) are steps of agent ``user``.

Outcome: score = ``reward_info.reward``, success by the success rule (default ``score>=1``); the database
check, action checks, NL assertions and communicate checks go into the metrics. ``termination_reason``
(``user_stop``, ``agent_stop``, ``max_steps``, ``too_many_errors``...) closes the run as an event step.
Trace id ``tau2-<domain>-<task_id>-<trial>-<first 8 characters of the simulation id>``: a Results file
may hold several trials of a task and two files may hold the same task and trial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, load_json, one_line
from mastlens.adapters.steps import StepBuilder, as_text, content_text
from mastlens.trace import Outcome, Source, StepKind, Trace

_OPENING = re.compile(r'^\{\s*"timestamp"\s*:')
_INFO_KEYS = ('"agent_info"', '"environment_info"', '"user_info"')
_MESSAGE_KINDS = {"user": StepKind.USER, "assistant": StepKind.ASSISTANT, "system": StepKind.SYSTEM}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def reward_metrics(reward_info: dict[str, Any]) -> dict[str, Any]:
    """The parts of a reward: the database check, each kind of check as a met/total pair, the breakdown."""
    metrics: dict[str, Any] = {}
    db = _dict(reward_info.get("db_check"))
    if _number(db.get("db_reward")) is not None:
        metrics["db_reward"] = float(db["db_reward"])
    if isinstance(db.get("db_match"), bool):
        metrics["db_match"] = db["db_match"]
    for key, flag in (("action_checks", "action_match"), ("nl_assertions", "met"),
                      ("communicate_checks", "met"), ("env_assertions", "met")):
        checks = reward_info.get(key)
        if not isinstance(checks, list) or not checks:
            continue
        met = sum(1 for c in checks if isinstance(c, dict) and c.get(flag) is True)
        name = key.removesuffix("_checks").removesuffix("_assertions")
        metrics[f"{name}_met"] = met
        metrics[f"{name}_total"] = len(checks)
        metrics[key] = checks
    for basis, value in _dict(reward_info.get("reward_breakdown")).items():
        if _number(value) is not None:
            metrics[f"reward_{str(basis).lower()}"] = float(value)
    return metrics


def _task_metadata(task: dict[str, Any]) -> dict[str, Any]:
    """What the task says the user wants and what the evaluation expects (never shown to the judges as steps:
    the agent does not see it)."""
    meta: dict[str, Any] = {}
    purpose = _dict(task.get("description")).get("purpose")
    if purpose:
        meta["task_purpose"] = purpose
    scenario = _dict(task.get("user_scenario"))
    instructions = scenario.get("instructions")
    if instructions:
        meta["user_instructions"] = instructions
    criteria = _dict(task.get("evaluation_criteria"))
    if isinstance(criteria.get("actions"), list):
        meta["expected_actions"] = criteria["actions"]
    if criteria.get("nl_assertions"):
        meta["expected_assertions"] = criteria["nl_assertions"]
    return meta


def _steps(builder: StepBuilder, messages: list[Any]) -> None:
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"message {i} is not an object")
        role = msg.get("role")
        ts = msg.get("timestamp") if isinstance(msg.get("timestamp"), str) else None
        meta = {"turn_idx": msg["turn_idx"]} if isinstance(msg.get("turn_idx"), int) else {}
        if role == "tool":
            call_id = msg.get("id") if isinstance(msg.get("id"), str) else None
            agent = "user" if msg.get("requestor") == "user" else None
            builder.result(as_text(msg.get("content")), call_id=call_id, agent=agent, timestamp=ts,
                           metadata={**meta, **({"is_error": True} if msg.get("error") is True else {})})
            continue
        kind = _MESSAGE_KINDS.get(role) if isinstance(role, str) else None
        if kind is None:
            raise ValueError(f"message {i} has role {role!r}, not user, assistant or tool")
        usage = _dict(msg.get("usage"))
        tokens = usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"), int) else None
        calls = msg.get("tool_calls") or []
        if not isinstance(calls, list):
            raise ValueError(f"message {i}: tool_calls is not a list")
        text = content_text(msg.get("content"), name_other_parts=True)
        if text or not calls:
            builder.add(kind, text, timestamp=ts, tokens=tokens, metadata=meta)
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ValueError(f"message {i}: a tool call has no name")
            agent = "user" if call.get("requestor") == "user" or role == "user" else None
            builder.call(call["name"], call.get("arguments"), call_id=call.get("id") if isinstance(
                call.get("id"), str) else None, agent=agent, timestamp=ts, metadata=meta)


class Tau2BenchAdapter(Adapter):
    name = "tau2"
    description = ("tau2-bench Results files (the current tau leaderboard's format): one trace per simulation, "
                   "the domain policy as system prompt, the agent's model from info.agent_info.llm")
    outcome = ("score = simulations[].reward_info.reward; success = score >= 1 (the default rule); db_check, "
               "action_checks, nl_assertions and communicate_checks as metrics; termination_reason as the end event")
    detects = 'a JSON object opening with "timestamp" whose "info" holds agent_info, environment_info and user_info'
    priority = 30
    extensions = (".json",)

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        return bool(_OPENING.match(text)) and all(key in text for key in _INFO_KEYS)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        results = load_json(path)
        if not isinstance(results, dict) or not isinstance(results.get("info"), dict):
            raise AdapterError("not a tau2-bench Results file: expected an object with info and simulations")
        simulations = results.get("simulations")
        if not isinstance(simulations, list):
            raise AdapterError("not a tau2-bench Results file: simulations is not a list")
        if not simulations:
            ctx.notes.append("tau2-bench Results file with no simulations (0 traces)")
            return
        info = results["info"]
        tasks = {str(t.get("id")): t for t in results.get("tasks") or [] if isinstance(t, dict)}
        for index, simulation in enumerate(simulations):
            try:
                yield self._trace(path, ctx, info, tasks, simulation, index, results.get("timestamp"))
            except ValueError as exc:
                ctx.record_issue(f"simulation {index}{_named(simulation)}: {one_line(exc)}", record=index)

    def _trace(self, path: Path, ctx: ReadContext, info: dict[str, Any], tasks: dict[str, dict[str, Any]], simulation: Any,
               index: int, run_timestamp: Any) -> Trace:
        if not isinstance(simulation, dict):
            raise ValueError("not an object")
        messages = simulation.get("messages")
        if not isinstance(messages, list):
            raise ValueError("has no messages list")
        environment = _dict(info.get("environment_info"))
        domain = environment.get("domain_name") if isinstance(environment.get("domain_name"), str) else None
        builder = StepBuilder()
        if isinstance(environment.get("policy"), str) and environment["policy"].strip():
            builder.add(StepKind.SYSTEM, environment["policy"], metadata={"source": "environment_info.policy"})
        _steps(builder, messages)
        reason = simulation.get("termination_reason")
        if isinstance(reason, str) and reason:
            builder.add(StepKind.EVENT, f"simulation ended: {reason}",
                        metadata={"event": "termination", "termination_reason": reason})

        reward_info = _dict(simulation.get("reward_info"))
        reward = _number(reward_info.get("reward"))
        task_id = str(simulation.get("task_id"))
        trial = simulation.get("trial")
        sim_id = str(simulation.get("id") or index)
        agent, user = _dict(info.get("agent_info")), _dict(info.get("user_info"))
        metadata: dict[str, Any] = {
            "simulation_id": sim_id, "task_id": task_id, "trial": trial, "domain": domain,
            "termination_reason": reason, "results_timestamp": run_timestamp,
            "agent_implementation": agent.get("implementation"), "user_model": user.get("llm"),
            "user_implementation": user.get("implementation"),
        }
        for key in ("seed", "duration", "agent_cost", "user_cost", "start_time", "end_time"):
            if simulation.get(key) is not None:
                metadata[key] = simulation[key]
        note = _dict(reward_info.get("info")).get("note")
        if isinstance(note, str) and note:
            metadata["reward_note"] = note
        metadata.update(_task_metadata(tasks.get(task_id, {})))
        prefix = f"tau2-{domain}" if domain else "tau2"
        return Trace(
            id=f"{prefix}-{task_id}" + (f"-{trial}" if trial is not None else "") + f"-{sim_id[:8]}",
            source=Source(format=self.name, path=str(path), record=index),
            system="tau2-bench",
            model=agent.get("llm") if isinstance(agent.get("llm"), str) else None,
            task=f"{domain}/{task_id}" if domain else task_id,
            steps=builder.steps,
            outcome=ctx.success_rule.apply(Outcome(score=reward, metrics=reward_metrics(reward_info))),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )


def _named(simulation: Any) -> str:
    """Which simulation, for an error line: its id and task when it has them."""
    if not isinstance(simulation, dict):
        return ""
    parts = [f"{key} {simulation[key]}" for key in ("id", "task_id") if simulation.get(key) is not None]
    return f" ({', '.join(parts)})" if parts else ""


ADAPTER = Tau2BenchAdapter()
