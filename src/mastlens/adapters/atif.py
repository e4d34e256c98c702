"""Harbor ATIF trajectories (Agent Trajectory Interchange Format, ``schema_version`` "ATIF-v1.x"; read
as of v1.7) and Harbor trial folders.

``trajectory.json``: ``{schema_version, session_id, agent{name, version, model_name}, steps[{step_id,
timestamp, source system|user|agent, message, reasoning_content, model_name, tool_calls[{tool_call_id,
function_name, arguments}], observation{results[{source_call_id, content, subagent_trajectory_ref}]},
metrics{prompt_tokens, completion_tokens, cost_usd}}], final_metrics, continued_trajectory_ref}``.
An agent step becomes reasoning, message, one tool call per call and one tool result per observation
result, in that order (a result whose text states an exit code or a failed execution carries
``exit_code`` / ``is_error``). The trace id is the session id.

A Harbor trial folder (``result.json`` beside ``agent/trajectory.json``) is read whole: the verifier's
reward (``verifier_result.rewards.reward``, other rewards as metrics) is the outcome score, the task
name the task, and trajectories continued in ``trajectory.cont-N.json`` files are appended.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, load_json, trace_stem
from mastlens.adapters.executions import exit_status
from mastlens.adapters.steps import StepBuilder, as_text
from mastlens.trace import Outcome, Source, StepKind, Trace

_SCHEMA = re.compile(r'"schema_version"\s*:\s*"ATIF-v\d')
_TRAJECTORY_FILES = ("agent/trajectory.json", "trajectory.json")
_MAX_CONTINUATIONS = 50
_SOURCE_KIND = {"system": StepKind.SYSTEM, "user": StepKind.USER}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _add_step(builder: StepBuilder, raw: dict[str, Any], agent_name: str | None, models: Counter) -> None:
    source = raw.get("source")
    ts = raw.get("timestamp") if isinstance(raw.get("timestamp"), str) else None
    meta: dict[str, Any] = {"step_id": raw.get("step_id")}
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
    if _number(metrics.get("cost_usd")) is not None:
        meta["cost_usd"] = metrics["cost_usd"]
    if isinstance(raw.get("model_name"), str):
        models[raw["model_name"]] += 1
    message = as_text(raw.get("message"))
    calls = raw.get("tool_calls") if isinstance(raw.get("tool_calls"), list) else []
    if source in _SOURCE_KIND:
        builder.add(_SOURCE_KIND[source], message, agent=source, timestamp=ts, metadata=meta)
    else:
        agent = agent_name or "agent"
        if raw.get("reasoning_content"):
            builder.add(StepKind.REASONING, as_text(raw["reasoning_content"]), agent=agent, timestamp=ts,
                        metadata=dict(meta))
        if message or not calls:
            step = builder.add(StepKind.ASSISTANT, message, agent=agent, timestamp=ts, metadata=dict(meta))
            if isinstance(metrics.get("completion_tokens"), int):
                step.tokens = metrics["completion_tokens"]
        for call in calls:
            if isinstance(call, dict):
                builder.call(call.get("function_name"), call.get("arguments"), call.get("tool_call_id"),
                             agent=agent, timestamp=ts, metadata=dict(meta))
    observation = raw.get("observation") if isinstance(raw.get("observation"), dict) else {}
    results = observation.get("results") if isinstance(observation.get("results"), list) else []
    for result in results:
        if not isinstance(result, dict):
            continue
        refs = result.get("subagent_trajectory_ref")
        if refs and not result.get("content"):
            builder.add(StepKind.EVENT, "subagent trajectories", timestamp=ts,
                        metadata={**meta, "event": "subagent", "subagent_trajectories": refs})
            continue
        text = as_text(result.get("content"))
        builder.result(text, call_id=result.get("source_call_id"), timestamp=ts, metadata={**meta, **exit_status(text)})


def _trajectory(path: Path) -> dict[str, Any]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise AdapterError("not an ATIF trajectory: expected an object with a steps list")
    return data


class AtifAdapter(Adapter):
    name = "atif"
    description = "Harbor ATIF trajectory.json files and Harbor trial folders (result.json reward as outcome)"
    detects = ('a JSON object with "schema_version": "ATIF-v1.x"; a folder with result.json and '
               "agent/trajectory.json (a Harbor trial)")
    outcome = ("a trial folder's result.json verifier_result.rewards: reward is the score, the others metrics "
               "(success by the rule); a lone trajectory.json has none")
    priority = 30
    extensions = (".json",)
    reads_dirs = True

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and bool(_SCHEMA.search(text[:8000]))

    def sniff_dir(self, path: Path) -> bool:
        return (path / "result.json").is_file() and any((path / f).is_file() for f in _TRAJECTORY_FILES)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        if path.is_dir():
            yield self._read_trial(path, ctx)
        else:
            yield self._build(path, _trajectory(path), ctx, Outcome(), {})

    def _read_trial(self, trial: Path, ctx: ReadContext) -> Trace:
        file = next((trial / f for f in _TRAJECTORY_FILES if (trial / f).is_file()), None)
        if file is None:
            raise AdapterError("a Harbor trial folder needs agent/trajectory.json")
        try:
            result = load_json(trial / "result.json")
        except AdapterError as exc:
            ctx.record_issue(f"result.json: {exc.reason}", line=exc.line)
            result = {}
        result = result if isinstance(result, dict) else {}
        verifier = result.get("verifier_result") if isinstance(result.get("verifier_result"), dict) else {}
        rewards = verifier.get("rewards") if isinstance(verifier.get("rewards"), dict) else {}
        if not rewards and _number(verifier.get("reward")) is not None:  # older result files
            rewards = {"reward": verifier["reward"]}
        metrics = {k: float(v) for k, v in rewards.items() if _number(v) is not None}
        score = metrics.get("reward", next(iter(metrics.values()), None))
        extra = {"trial_name": result.get("trial_name"), "task_name": result.get("task_name")}
        if isinstance(result.get("exception_info"), dict):
            extra["exception"] = {k: result["exception_info"].get(k) for k in ("exception_type", "exception_message")}
        if not metrics:
            ctx.notes.append("result.json has no verifier reward; outcome unknown")
        data = _trajectory(file)
        return self._build(file, data, ctx, Outcome(score=score, metrics=metrics), extra, trial=trial)

    def _build(self, path: Path, data: dict[str, Any], ctx: ReadContext, outcome: Outcome,
               extra: dict[str, Any], trial: Path | None = None) -> Trace:
        agent = data.get("agent") if isinstance(data.get("agent"), dict) else {}
        builder, models = StepBuilder(), Counter()
        parts, seen = [data], {path.resolve()}
        ref = data.get("continued_trajectory_ref")
        while trial is not None and isinstance(ref, str) and len(parts) <= _MAX_CONTINUATIONS:
            nxt = (path.parent / ref).resolve()
            if nxt in seen:
                break
            if not nxt.is_file():
                ctx.notes.append(f"continued trajectory {ref} not found")
                break
            seen.add(nxt)
            parts.append(_trajectory(nxt))
            ref = parts[-1].get("continued_trajectory_ref")
        for part in parts:
            for i, raw in enumerate(part["steps"]):
                if not isinstance(raw, dict):
                    raise AdapterError(f"step {i} is not an object", record=i)
                _add_step(builder, raw, agent.get("name"), models)
        model = agent.get("model_name") or (models.most_common(1)[0][0] if models else None)
        metadata = {
            "schema_version": data.get("schema_version"), "session_id": data.get("session_id"),
            "agent": {k: agent.get(k) for k in ("name", "version") if agent.get(k)},
            "final_metrics": data.get("final_metrics"),
            "continued_trajectory_ref": data.get("continued_trajectory_ref"),
            **extra,
        }
        return Trace(
            id=str(data.get("session_id") or trace_stem(path)), source=Source(format=self.name, path=str(trial or path)),
            system=agent.get("name"), model=model, task=extra.get("task_name"), steps=builder.steps,
            outcome=ctx.success_rule.apply(outcome), metadata={k: v for k, v in metadata.items() if v},
        )


ADAPTER = AtifAdapter()
