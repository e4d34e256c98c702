"""A Codex rollout shaped like the big real ITBench runs, for render-size tests and the CLI benchmark.

What makes those prompts big is reproduced: the AGENTS.md instructions (~12.8 KB) sent as the session's
instructions and again as the first user message, environment context re-sent on later turns, shell calls
with long inline scripts (heredocs) and large outputs, ``apply_patch`` calls whose patch bodies run to
kilobytes, reasoning summaries and agent messages. ``write_coding_run(path, target_bytes=3_000_000)``
writes it (deterministic for a seed) and returns what it holds, so tests can check nothing was lost.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from itbench_runs import RolloutWriter  # noqa: E402
from itbench_text import SCENARIOS, big_log  # noqa: E402

CWD = "/work/agent_outputs/scenario_2/1"


@dataclass
class CodingRun:
    path: Path
    calls: int = 0
    agent_messages: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    instructions: str = ""


def agents_md(rng: random.Random, chars: int = 12_800) -> str:
    """Task instructions of about ``chars`` characters: sections of rules, as an AGENTS.md file has."""
    topics = ["alerts", "events", "logs", "traces", "metrics", "topology", "configuration", "output", "validation"]
    out = ["**Task**: investigate a production incident as an SRE support agent; diagnose, never remediate."]
    n = 0
    while sum(len(p) + 2 for p in out) < chars:
        topic = topics[n % len(topics)]
        rules = "\n".join(f"- Rule {n}.{k}: when reading {topic}, check {rng.choice(topics)} for the same "
                          f"time window (+/- {rng.randint(1, 15)} min) and note which entity each finding names."
                          for k in range(6))
        out.append(f"# {topic.title()} ({n})\n{rules}")
        n += 1
    return "\n\n".join(out)


def _script(rng: random.Random, lines: int) -> str:
    body = "\n".join(f"    rows.append(summarize(record, field_{i}={rng.randint(0, 999)!r}))  # column {i}"
                     for i in range(lines))
    return (f"python3 - <<'PY'\nimport json, sys\nrows = []\nfor record in json.load(open('alerts.json')):\n"
            f"{body}\nprint(json.dumps(rows, indent=2))\nPY")


def _patch(rng: random.Random, lines: int) -> str:
    added = "\n".join(f"+    \"check_{i}\": {{\"entity\": \"otel-demo/Service/s{rng.randint(0, 40)}\", "
                      f"\"why\": \"error rate {rng.random():.3f} above threshold\"}}," for i in range(lines))
    return f"*** Begin Patch\n*** Update File: {CWD}/notes.py\n@@ def findings():\n-    return {{}}\n{added}\n*** End Patch"


def _apply_patch(w: RolloutWriter, call_id: str, patch: str) -> None:
    """An ``apply_patch`` custom tool call on notes.py and its success output."""
    w.emit("response_item", {"type": "custom_tool_call", "name": "apply_patch", "status": "completed",
                             "call_id": call_id, "input": patch}, 0.8)
    w.emit("response_item", {"type": "custom_tool_call_output", "call_id": call_id,
                             "output": f"Success. Updated the following files:\nM {CWD}/notes.py"}, 0.2)
    w.facts.tool_calls += 1


def write_coding_run(path: Path, *, target_bytes: int = 3_000_000, calls: int = 60, seed: int = 0,
                     instructions: str | None = None) -> CodingRun:
    """Write the rollout to ``path``; tool outputs are sized so that the file is about ``target_bytes``.
    ``instructions`` replaces the generated AGENTS.md text (runs of one family share it)."""
    rng = random.Random(seed)
    sc = SCENARIOS["scenario_2"]
    w = RolloutWriter(rng, "gpt-5.1-codex-max", datetime(2026, 1, 15, 18, 0, tzinfo=timezone.utc), "text")
    generated = agents_md(rng)
    run = CodingRun(path=path, instructions=generated if instructions is None else instructions)
    w.session_meta(CWD, run.instructions)
    w.user(f"# AGENTS.md instructions for {CWD}\n\n<INSTRUCTIONS>\n{run.instructions}\n</INSTRUCTIONS>", echo=False)
    env = (f"<environment_context>\n  <cwd>{CWD}</cwd>\n  <approval_policy>never</approval_policy>\n"
           "  <sandbox_mode>workspace-write</sandbox_mode>\n  <network_access>restricted</network_access>\n"
           "  <shell>bash</shell>\n</environment_context>")
    w.user(env, echo=False)
    task = ("Diagnose the incident captured in /work/ITBench-Lite/snapshots/sre/v0.2/scenario_2 (namespace "
            "otel-demo). Write the diagnosis to agent_output.json in your working directory and validate it.")
    w.user(task)
    # Outputs take what the instructions, scripts and patches leave of the target size.
    log_calls = max(1, calls // 3)
    per_log_lines = max(40, (target_bytes - 40_000 - calls * 6_000) // (log_calls * 110))
    for i in range(calls):
        if i and i % 20 == 0:  # a new turn re-sends the context and the request
            w.turn(CWD)
            w.user(env, echo=False)
            w.user(task)
        thought = f"**Step {i}**\n\nChecking hypothesis {i}: {rng.choice(sc.impacted)} errors come from upstream."
        w.think(thought)
        run.reasoning.append(thought)
        kind = i % 3
        if kind == 0:
            w.shell(CWD, f"kubectl logs -n otel-demo deploy/{sc.victim} --since=30m --timestamps | tail -n {i + 100}",
                    big_log(rng, sc.victim, sc, per_log_lines))
        elif kind == 1:
            w.shell(CWD, _script(rng, rng.randint(40, 90)), big_log(rng, "frontend", sc, 30), seconds=0.8)
        else:
            _apply_patch(w, f"call_patch_{i}", _patch(rng, rng.randint(40, 120)))
        run.calls += 1
        if i % 5 == 4:
            message = f"Finding {i}: the {sc.victim} errors line up with the flag change in flagd-config."
            w.say(message)
            run.agent_messages.append(message)
        w.tokens(20_000 + 300 * i, 400)
    final = "The root cause is otel-demo/ConfigMap/flagd-config; the diagnosis is written and validated."
    w.say(final, final=True)
    run.agent_messages.append(final)
    w.write(path)
    return run


def write_oss_coding_run(path: Path, *, target_bytes: int = 1_000_000, seed: int = 0,
                         instructions: str | None = None) -> CodingRun:
    """A rollout shaped like the real 1 MB ITBench run of gpt-oss-120b: the session's instructions hold the
    task document twice (the rollout's own instructions and the AGENTS.md text carry the same ~12 KB), the
    first user message wraps it again; 25 calls (17 shell, 6 apply_patch, 2 MCP), six user messages (the
    harness asking again), raw reasoning and no agent message. ``instructions`` fixes the document, so
    runs of one family share it."""
    rng = random.Random(seed)
    sc = SCENARIOS["scenario_2"]
    w = RolloutWriter(rng, "gpt-oss-120b", datetime(2026, 1, 16, 9, 0, tzinfo=timezone.utc), "text")
    doc = instructions if instructions is not None else agents_md(random.Random(seed + 1000), 12_255)
    run = CodingRun(path=path, instructions=doc)
    w.session_meta(CWD, f"You are an SRE support agent working offline.\n\n{doc}\n\n"
                        f"## Project instructions (AGENTS.md)\n\n{doc}\n\nFollow both; they agree.")
    w.user(f"# AGENTS.md instructions for {CWD}\n\n<INSTRUCTIONS>\n{doc}\n</INSTRUCTIONS>", echo=False)
    task = ("Diagnose the incident captured in /work/ITBench-Lite/snapshots/sre/v0.2/scenario_2 (namespace "
            f"otel-demo, run {seed}). Write the diagnosis to agent_output.json in your working directory.")
    w.user(task)
    kinds = ["shell"] * 17 + ["patch"] * 6 + ["mcp"] * 2
    random.Random(seed).shuffle(kinds)
    shells = kinds.count("shell")
    per_log_lines = max(40, (target_bytes - 80_000) // (shells * 110))
    asks = 0
    for i, kind in enumerate(kinds):
        thought = f"Step {i}: check whether {rng.choice(sc.impacted)} errors start upstream of {sc.victim}."
        w.think(thought)
        run.reasoning.append(thought)
        if kind == "shell":
            w.shell(CWD, f"grep -n error /work/ITBench-Lite/snapshots/sre/v0.2/scenario_2/logs/{sc.victim}.log "
                         f"| head -n {i + 200}", big_log(rng, sc.victim, sc, per_log_lines))
        elif kind == "patch":
            _apply_patch(w, f"call_patch_{i}", _patch(rng, rng.randint(30, 80)))
        else:
            w.mcp("get_alerts", {"namespace": "otel-demo", "window_minutes": 30 + i},
                  big_log(rng, "alertmanager", sc, 60))
        run.calls += 1
        if i % 6 == 5 and asks < 4:  # the harness asks again: six user messages in all
            w.user(f"The file agent_output.json is not written yet. Continue the diagnosis ({asks + 1}).")
            asks += 1
        w.tokens(30_000 + 500 * i, 600)
    w.write(path)
    return run
