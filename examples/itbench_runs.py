"""Generator of realistic ITBench SRE runs: a Codex CLI rollout plus agent_output.json and judge_output.json.

An SRE agent triages a Kubernetes incident in namespace ``otel-demo`` whose root cause is a feature flag
switched on in ConfigMap ``otel-demo/flagd-config`` (ITBench scenarios 2 and 3). Each *pattern* scripts
one way a run goes: a clean diagnosis, or one of the failure shapes seen in real runs (a loop of identical
calls, running into the turn limit, stopping without a diagnosis, an empty diagnosis, ignoring a failed
command and claiming success, remediating without re-checking, the task re-issued mid-run).

Used by ``make_examples.py`` (small runs bundled in ``examples/itbench``) and by the tests (through
``tests/itbench_factory.py``, with ``scale`` to make tool outputs big). Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from itbench_text import ALERTS, SCENARIOS, Scenario, big_log, pods_table

PATTERNS = ("clean", "loop", "turn_limit", "no_output", "empty_entities", "ignored_error", "remediation",
            "task_reissued", "recovered_error", "recheck")
MCP = "mcp__offline_incident_analysis__"


@dataclass
class RunFacts:
    """What a generated run contains, for tests to assert against."""

    session_id: str
    model: str
    tool_calls: int = 0
    exit_codes: list[int] = field(default_factory=list)
    turns: int = 0
    diagnosis_written: bool = False
    recall: float = 0.0
    biggest_output: str = ""
    compacted: int = 0
    aborted: int = 0


class RolloutWriter:
    """Appends Codex rollout records (as the CLI would) with a moving clock."""

    def __init__(self, rng: random.Random, model: str, start: datetime, shell_format: str = "json"):
        self.rng, self.model, self.clock, self.shell_format = rng, model, start, shell_format
        self.records: list[dict[str, Any]] = []
        self.total = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0,
                      "reasoning_output_tokens": 0, "total_tokens": 0}
        self.facts = RunFacts(session_id=self._uuid(), model=model)

    def _uuid(self) -> str:
        h = "%032x" % self.rng.getrandbits(128)
        return f"019b{h[4:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def _call_id(self, tool: str) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        token = "".join(self.rng.choice(alphabet) for _ in range(20))
        return f"tool_{tool.split('__')[-1]}_{token}" if "gemini" in self.model else f"call_{token}"

    def emit(self, rtype: str, payload: dict[str, Any], seconds: float = 0.4) -> None:
        self.clock += timedelta(seconds=seconds)
        stamp = self.clock.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.clock.microsecond // 1000:03d}Z"
        self.records.append({"timestamp": stamp, "type": rtype, "payload": payload})

    def session_meta(self, cwd: str, instructions: str | None) -> None:
        self.emit("session_meta", {"id": self.facts.session_id, "timestamp": "", "cwd": cwd,
                                   "originator": "codex_exec", "cli_version": "0.80.0",
                                   "instructions": instructions, "source": "exec", "model_provider": "litellm",
                                   "git": {}}, 0)
        self.records[-1]["payload"]["timestamp"] = self.records[-1]["timestamp"]

    def user(self, text: str, echo: bool = True) -> None:
        self.emit("response_item", {"type": "message", "role": "user",
                                    "content": [{"type": "input_text", "text": text}]}, 0.01)
        if echo:
            self.emit("event_msg", {"type": "user_message", "message": text, "images": []}, 0.01)

    def turn(self, cwd: str) -> None:
        self.facts.turns += 1
        self.emit("turn_context", {"cwd": cwd, "approval_policy": "never",
                                   "sandbox_policy": {"type": "workspace-write", "network_access": False},
                                   "model": self.model, "effort": "low", "summary": "auto"}, 0.6)

    def think(self, *parts: str) -> None:
        raw = "gpt-oss" in self.model
        payload: dict[str, Any] = {"type": "reasoning", "summary": [], "content": None,
                                   "encrypted_content": "gAAAAB" + "%064x" % self.rng.getrandbits(256)}
        if raw:
            payload["content"] = [{"type": "reasoning_text", "text": p} for p in parts]
        else:
            payload["summary"] = [{"type": "summary_text", "text": p} for p in parts]
        self.emit("response_item", payload, 1.5)
        for p in parts:
            self.emit("event_msg", {"type": "agent_reasoning_raw_content" if raw else "agent_reasoning", "text": p}, 0)

    def tokens(self, prompt: int, completion: int, null: bool = False) -> None:
        if null:
            self.emit("event_msg", {"type": "token_count", "info": None, "rate_limits": None}, 0.01)
            return
        last = {"input_tokens": prompt, "cached_input_tokens": prompt // 2, "output_tokens": completion,
                "reasoning_output_tokens": completion // 3, "total_tokens": prompt + completion}
        for key, value in last.items():
            self.total[key] += value
        self.emit("event_msg", {"type": "token_count", "info": {"total_token_usage": dict(self.total),
                                "last_token_usage": last, "model_context_window": 128000},
                                "rate_limits": None}, 0.01)

    def shell(self, cwd: str, command: str, output: str, exit_code: int = 0, seconds: float = 0.3) -> None:
        call_id = self._call_id("shell")
        args = {"command": ["bash", "-lc", command], "workdir": cwd, "timeout_ms": 120000}
        self.emit("response_item", {"type": "function_call", "name": "shell",
                                    "arguments": json.dumps(args), "call_id": call_id}, 0.8)
        if self.shell_format == "json":
            text = json.dumps({"output": output, "metadata": {"exit_code": exit_code, "duration_seconds": seconds}})
        else:
            text = f"Exit code: {exit_code}\nWall time: {seconds} seconds\nOutput:\n{output}"
        self.emit("response_item", {"type": "function_call_output", "call_id": call_id, "output": text}, seconds)
        self._count(output, exit_code)

    def mcp(self, tool: str, arguments: dict[str, Any], text: str) -> None:
        call_id = self._call_id(MCP + tool)
        self.emit("response_item", {"type": "function_call", "name": MCP + tool,
                                    "arguments": json.dumps(arguments), "call_id": call_id}, 0.8)
        parts = [{"type": "text", "text": text}]
        self.emit("response_item", {"type": "function_call_output", "call_id": call_id,
                                    "output": json.dumps(parts)}, 0.5)
        self._count(text, None)

    def _count(self, output: str, exit_code: int | None) -> None:
        self.facts.tool_calls += 1
        if exit_code is not None:
            self.facts.exit_codes.append(exit_code)
        if len(output) > len(self.facts.biggest_output):
            self.facts.biggest_output = output

    def say(self, text: str, final: bool = False) -> None:
        payload: dict[str, Any] = {"type": "message", "role": "assistant",
                                   "content": [{"type": "output_text", "text": text}]}
        if final:
            payload["phase"] = "final_answer"
        self.emit("response_item", payload, 1.0)
        self.emit("event_msg", {"type": "agent_message", "message": text}, 0)

    def compacted(self, summary: str) -> None:
        self.facts.compacted += 1
        self.emit("compacted", {"message": summary}, 2.0)
        self.emit("event_msg", {"type": "context_compacted"}, 0)

    def aborted(self, reason: str) -> None:
        self.facts.aborted += 1
        self.emit("event_msg", {"type": "turn_aborted", "reason": reason}, 0.1)

    def ghost(self) -> None:
        self.emit("response_item", {"type": "ghost_snapshot",
                                    "ghost_commit": {"id": "%040x" % self.rng.getrandbits(160), "parent": None}}, 0)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for record in self.records:
                fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def diagnosis(sc: Scenario, root: str | None) -> dict[str, Any]:
    """An agent_output.json naming ``root`` as the contributing factor (None: an empty diagnosis)."""
    if root is None:
        return {"entities": [], "propagations": [], "alerts_explained": [
            {"alert": a, "explanation": "", "explained": False} for a in sc.alerts]}
    entities = [{"name": root, "contributing_factor": True, "reasoning": sc.reasoning(root),
                 "evidence": sc.evidence(root)}]
    for svc in sc.impacted:
        entities.append({"name": f"otel-demo/Service/{svc}", "contributing_factor": False,
                         "reasoning": f"{svc} errors follow from the failing upstream call chain.",
                         "evidence": f"HighRequestErrorRate alert for {svc}."})
    chain = [root] + [f"otel-demo/Service/{s}" for s in sc.impacted]
    props = [{"source": a, "target": b, "condition": "requests fail upstream", "effect": "error rate rises"}
             for a, b in zip(chain, chain[1:])]
    return {"entities": entities, "propagations": props, "alerts_explained": [
        {"alert": a, "explanation": f"explained by {root}", "explained": True} for a in sc.alerts]}


def judge_output(sc: Scenario, diag: dict[str, Any] | None, scenario: str, run: str, model: str) -> dict[str, Any]:
    predicted = [e["name"] for e in (diag or {}).get("entities", []) if e.get("contributing_factor")]
    matches = [{"entity": p, "matches_gt": p in sc.ground_truth} for p in predicted]
    tp = sum(m["matches_gt"] for m in matches)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(sc.ground_truth)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    why = ("The predicted root cause matches the ground-truth ConfigMap." if recall == 1
           else "No predicted contributing entity matches the ground truth." if not tp
           else "Some ground-truth entities are missing from the prediction.")
    scores = {"root_cause_entity": {"gt_entities": sc.ground_truth, "predicted_entities": matches,
                                    "calculation_precision": precision, "calculation_recall": recall,
                                    "calculation_f1": f1, "justification": why},
              "root_cause_reasoning": {"calculation_score": 1.0 if recall == 1 else 0.0,
                                       "justification": why},
              "propagation_chain": {"calculation_score": round(0.8 * recall, 2), "justification": why}}
    return {"metadata": {"scenario_name": scenario, "run": run, "agent_model": model, "judge": "itbench-judge"},
            "eval_result": {"scores": scores},
            "flat_scores": {"root_cause_entity_precision": precision, "root_cause_entity_recall": recall,
                            "root_cause_entity_f1": f1,
                            "root_cause_reasoning_score": scores["root_cause_reasoning"]["calculation_score"],
                            "propagation_chain_score": scores["propagation_chain"]["calculation_score"]}}


def write_run(run_dir: Path, *, model: str, scenario: str = "scenario_2", pattern: str = "clean", seed: int = 0,
              scale: int = 1, judge: bool = True, shell_format: str = "json", session_name: str | None = None,
              ground_truth: list[str] | None = None) -> RunFacts:
    """Write one run folder (rollout under sessions/, agent_output.json unless the pattern drops it,
    judge_output.json when ``judge``). ``scale`` multiplies the size of the big tool outputs."""
    from itbench_script import play  # the scripted investigation, kept apart to keep files small

    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; one of {PATTERNS}")
    rng = random.Random(f"{seed}/{model}/{scenario}/{pattern}")
    sc = SCENARIOS[scenario]
    if ground_truth is not None:
        sc = sc.with_ground_truth(ground_truth)
    start = datetime(2026, 1, 15, 17, 50, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 600))
    writer = RolloutWriter(rng, model, start, shell_format)
    diag = play(writer, sc, pattern, cwd=f"/work/agent_outputs/{scenario}/{run_dir.name}", scale=scale)
    stamp = start.strftime("%Y/%m/%d")
    name = session_name or f"sessions/{stamp}/rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{writer.facts.session_id}.jsonl"
    writer.write(run_dir / name)
    if diag is not None:
        (run_dir / "agent_output.json").write_text(json.dumps(diag, indent=2) + "\n", encoding="utf-8")
        writer.facts.diagnosis_written = True
    result = judge_output(sc, diag, scenario, run_dir.name, model)
    writer.facts.recall = result["flat_scores"]["root_cause_entity_recall"]
    if judge:
        (run_dir / "judge_output.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return writer.facts


__all__ = ["ALERTS", "PATTERNS", "RunFacts", "RolloutWriter", "big_log", "diagnosis", "judge_output",
           "pods_table", "write_run"]
