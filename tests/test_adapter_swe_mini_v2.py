"""mini-swe-agent 2.x trajectories (``trajectory_format: mini-swe-agent-1.1``), built from a real 1.x dev
trajectory in the shapes mini-swe-agent documents for 2.x: parsed commands in ``extra.actions``, the exit
status in ``extra.returncode``, an end message carrying ``exit_status`` and ``submission``; and the
tool-calling variant (``tool_calls`` answered by ``tool`` messages)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, lacking
from mastlens.adapters.loader import read_file
from mastlens.trace import StepKind

TRAJ = (FIXTURES.parent / "devsets" / "swe_bench" / "gemini-3-pro-mini-swe-agent" / "trajs" / "django__django-10097"
        / "django__django-10097.traj.json.gz")
BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)


@pytest.fixture(scope="module")
def v1() -> dict:
    if not TRAJ.is_file():
        lacking(f"SWE-bench dev set not found at {TRAJ.parent.parent.parent}")
    return json.loads(gzip.decompress(TRAJ.read_bytes()))


def _as_v2(v1: dict, *, tool_calls: bool) -> tuple[dict, list[str], list[int]]:
    """The run as 2.x would write it; with the executed commands and their exit codes."""
    data = json.loads(json.dumps(v1))
    data["trajectory_format"] = "mini-swe-agent-1.1"
    messages = data["messages"]
    out, commands, codes = messages[:2], [], []
    for i, message in enumerate(messages[2:-1], start=2):
        answer = messages[i + 1]
        if message["role"] != "assistant":
            continue
        blocks = BLOCK.findall(message["content"])
        executed = answer["content"].startswith("<returncode>")
        if not executed or len(blocks) != 1:
            if i + 1 < len(messages) - 1:  # a rejection (the last answer, the submission, is replaced below)
                out += [message, answer]
            continue
        command = blocks[0].strip()
        code = int(re.match(r"<returncode>(-?\d+)</returncode>", answer["content"]).group(1))
        commands.append(command)
        codes.append(code)
        reply = {**message, "content": message["content"].replace("```bash", "```mswea_bash_command"),
                 "extra": {**message.get("extra", {}), "actions": [{"command": command}]}}
        answer = {**answer, "extra": {"returncode": code, "timestamp": 1763511550.0}}
        if tool_calls:
            call_id = f"call_{len(commands)}"
            reply = {"role": "assistant", "content": message["content"].split("```")[0],
                     "tool_calls": [{"id": call_id, "type": "function", "function": {
                         "name": "bash", "arguments": json.dumps({"command": command})}}],
                     "extra": {"actions": [{"command": command, "tool_call_id": call_id}]}}
            answer = {"role": "tool", "tool_call_id": call_id, "content": answer["content"],
                      "extra": answer["extra"]}
        out += [reply, answer]
    submit = messages[-2]
    commands.append(BLOCK.findall(submit["content"])[0].strip())
    out += [{**submit, "extra": {**submit.get("extra", {}), "actions": [{"command": commands[-1]}]}},
            {"role": "user", "content": "", "extra": {"exit_status": "Submitted",
                                                      "submission": data["info"]["submission"]}}]
    data["messages"] = out
    return data, commands, codes


@pytest.mark.parametrize(("tool_calls", "end_role"), [(False, "user"), (True, "user"), (False, "exit"), (True, "exit")],
                         ids=["text actions", "tool calls", "text actions, exit role", "tool calls, exit role"])
def test_a_2x_trajectory_gives_the_same_calls_and_exit_statuses(tmp_path, v1, tool_calls, end_role):
    data, commands, codes = _as_v2(v1, tool_calls=tool_calls)
    data["messages"][-1]["role"] = end_role
    path = tmp_path / "django__django-10097.traj.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = read_file(path)
    assert result.format == "mini-swe-agent" and not result.failures, [f.describe() for f in result.failures]
    [trace] = result.traces
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    assert [c.arguments["command"] for c in calls] == commands
    assert [r.metadata.get("exit_code") for r in results[:-1]] == codes
    assert results[-1].metadata.get("submission") is True and results[-1].content == data["info"]["submission"]
    assert calls[-1].metadata.get("ends_run") is True
    assert trace.steps[-1].metadata == {"event": "exit_status", "exit_status": "Submitted"}
    assert not any("mswea_bash_command" in s.content for s in trace.steps if s.kind is StepKind.ASSISTANT
                   and not s.metadata.get("rejected"))
    rejected = sum(1 for m in data["messages"] if m["role"] == "user"
                   and m["content"].startswith("Please always provide EXACTLY ONE action"))
    assert sum(1 for s in trace.steps if s.metadata.get("harness_feedback")) == rejected
