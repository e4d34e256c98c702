"""mini-swe-agent trajectories (``<id>.traj.json``, also gzipped): ``{info, messages, trajectory_format,
instance_id}``, ``trajectory_format`` ``mini-swe-agent-1`` (1.x) or ``mini-swe-agent-1.1`` (2.x).

``messages`` is the chat the model saw: the system prompt and the task (first user message), then each
assistant reply (a THOUGHT and its command) answered by the harness; :mod:`mastlens.adapters.swe.mini_steps`
turns them into steps. Mapping (conventions in :mod:`mastlens.adapters.swe.common`): each executed reply
is an ``assistant`` step (its text without the executed block; the provider's reasoning, when logged, a
``reasoning`` step before it), a ``bash`` tool call and its result; ``info.exit_status`` ends the run;
``info.submission`` is kept bounded; the model is ``info.config.model.model_name``; ``info.model_stats``
gives the outcome metrics ``api_calls`` and ``cost``. Trace id ``<model without provider prefix>/<instance
id>``, task = the instance id. Success comes from a SWE-bench evaluation report
(:mod:`mastlens.adapters.swe.reports`); a trajectory alone has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext
from mastlens.adapters.swe.common import (
    instance_of, load_whole, model_stats, nested, sniff_trajectory, stats_metrics, submission_metadata, top_level_keys,
)
from mastlens.adapters.swe.mini_steps import MiniReader
from mastlens.adapters.swe.reports import attach_outcome
from mastlens.trace import Outcome, Source, Trace
from mastlens.trace.model_names import normalize_model

SUFFIX = ".traj.json"


def looks_like_mini(keys: list[str]) -> bool:
    return "messages" in keys and ("trajectory_format" in keys or "info" in keys)


def read_trajectory(path: Path, ctx: ReadContext, format_name: str, *, where: str | None = None) -> Trace:
    """One mini-swe-agent trajectory file as a trace (outcome not attached). Problems inside it are recorded
    on ``ctx`` as issues (prefixed with ``where``, the file's place in a folder, when given)."""
    data = load_whole(path)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise AdapterError("not a mini-swe-agent trajectory: no messages list")
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    reader = MiniReader(info)
    builder = reader.read(data["messages"])
    for problem in reader.problems:
        ctx.record_issue(f"{where}: {problem}" if where else problem)
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
    description = ("mini-swe-agent trajectories (<instance>.traj.json, also .gz; 1.x and 2.x): each executed command "
                   "a bash tool call with its exit status; format rejections as harness feedback")
    detects = ("a name ending in .traj.json, or a JSON object whose top-level keys (scanned past any size of "
               "info) include messages and trajectory_format")
    outcome = ("a SWE-bench evaluation report beside the run or given in the same ingest (sb-cli report, harness "
               "run report, logs/run_evaluation/**/report.json): resolved = success, unresolved = failed, "
               "error/empty patch = unknown; model_stats api_calls and cost as metrics")
    priority = 12
    extensions = (".json",)

    def sniff(self, path: Path, head: bytes) -> bool:
        def keys_fit(keys: list[str]) -> bool:
            if looks_like_mini(keys):
                return True
            # a first value larger than the head (a big info.submission): scan the keys through the file
            return keys[:1] == ["info"] and len(keys) == 1 and looks_like_mini(top_level_keys(path))

        return sniff_trajectory(path, head, SUFFIX, keys_fit)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        trace = read_trajectory(path, ctx, self.name)
        yield attach_outcome(trace, path.parent, ctx)


ADAPTER = MiniSweAgentAdapter()
