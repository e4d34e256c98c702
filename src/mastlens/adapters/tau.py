"""tau-bench results: a JSON list of ``{task_id, reward, info, traj, trial}`` records.

``traj`` is the conversation as OpenAI-style chat messages (the user is simulated by an LLM); ``info``
holds the task (user id, instruction, the expected actions) and the reward breakdown. Trace id
``tau-<task_id>-<trial>``; success = reward == 1, score = reward. The records do not name the model, so
it is unknown (a file name is no evidence of one: exports are named freely); an environment named in the
file name (``airline``, ``retail``, ``telecom``) becomes the task prefix. The ReAct and Act agents' trajectories,
whose actions are JSON in the assistant's text and whose tool outputs come back as user messages
(:mod:`mastlens.adapters.tau_react`), are read as tool calls and results (``metadata["actions_in_text"]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, ReadContext, head_text, plain_name
from mastlens.adapters.chat_messages import message_steps
from mastlens.adapters.jsonstream import first_record_keys, iter_records, read_each
from mastlens.adapters.tau_react import as_tool_messages, is_react
from mastlens.trace import Outcome, Source, Trace

_ENVIRONMENT = re.compile(r"(?:^|[-_.])(?P<env>airline|retail|telecom)(?=[-_.]|$)", re.IGNORECASE)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _task_info(info: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, metrics) from a record's ``info``."""
    info = info if isinstance(info, dict) else {}
    task = info.get("task") if isinstance(info.get("task"), dict) else {}
    meta: dict[str, Any] = {}
    for key in ("user_id", "instruction", "outputs"):
        if task.get(key):
            meta[key] = task[key]
    if isinstance(task.get("actions"), list):
        meta["expected_actions"] = task["actions"]
    if _number(info.get("user_cost")) is not None:
        meta["user_cost"] = info["user_cost"]
    reward_info = info.get("reward_info") if isinstance(info.get("reward_info"), dict) else {}
    parts = reward_info.get("info") if isinstance(reward_info.get("info"), dict) else {}
    metrics = {k: v for k, v in parts.items() if _number(v) is not None}
    return meta, metrics


class TauBenchAdapter(Adapter):
    name = "tau"
    description = ("tau-bench results (historical trajectories): tasks, rewards and chat trajectories; the records "
                   "name no model (model unknown)")
    outcome = "score = the record's reward; success = reward == 1 (the source's flag); reward_info.info parts as metrics"
    detects = "a JSON list (or JSONL) of records whose keys include task_id and traj or reward"
    priority = 30

    def sniff(self, path: Path, head: bytes) -> bool:
        keys = first_record_keys(head_text(head)) or []
        return "task_id" in keys and ("traj" in keys or "reward" in keys)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        named = _ENVIRONMENT.search(plain_name(path))
        env = named["env"].lower() if named else None
        yield from read_each(ctx, iter_records(path),
                             lambda line, index, record: self._trace(path, ctx, record, line, index, env),
                             "a tau-bench result")

    def _trace(self, path: Path, ctx: ReadContext, record: Any, line: int | None, index: int,
               env: str | None) -> Trace:
        if not isinstance(record, dict) or "task_id" not in record:
            raise ValueError("record has no task_id")
        traj = record.get("traj")
        if not isinstance(traj, list):
            raise ValueError("record has no traj list of messages")
        react = is_react(traj)
        steps = message_steps(as_tool_messages(traj) if react else traj)  # a MessageError is reported with the record
        reward = _number(record.get("reward"))
        meta, metrics = _task_info(record.get("info"))
        trial = record.get("trial")
        task_id = record["task_id"]
        outcome = Outcome(success=None if reward is None else reward == 1, score=reward, metrics=metrics)
        return Trace(
            id=f"tau-{task_id}" + (f"-{trial}" if trial is not None else ""),
            source=Source(format=self.name, path=str(path), line=line, record=index),
            system="tau-bench",
            model=None,
            task=f"{env}/{task_id}" if env else str(task_id),
            steps=steps,
            outcome=ctx.success_rule.apply(outcome),
            metadata={**meta, "task_id": task_id, "trial": trial, **({"environment": env} if env else {}),
                      **({"actions_in_text": "react"} if react else {})},
        )


ADAPTER = TauBenchAdapter()
