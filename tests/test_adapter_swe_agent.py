"""SWE-agent trajectories (.traj), read from the three real files in ../shared/devsets/swe_agent: the classic
thought + command variant and the function-calling one, each executed action one bash call with the
observation as its result, the run's end and statistics; plus a rejected reply, constructed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mastlens.adapters.loader import FileResult, read_file, walk
from mastlens.trace import StepKind

CLASSIC = "pydicom__pydicom-1458.traj"
FUNCTION_CALLING = "marshmallow-code__marshmallow-1867.traj"
SMALL = "swe-agent__test-repo-i1.traj"


def _read(path: Path):
    result = read_file(path)
    assert result.format == "swe-agent" and not result.failures, [f.describe() for f in result.failures]
    [trace] = result.traces
    return trace, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [CLASSIC, FUNCTION_CALLING, SMALL])
def test_each_action_that_ran_is_one_bash_call_with_its_observation(swe_agent_dir, name):
    trace, data = _read(swe_agent_dir / name)
    steps = data["trajectory"]
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    assert [c.arguments["command"] for c in calls] == [s["action"].strip() for s in steps]
    assert all(c.tool == "bash" and c.content == c.arguments["command"] for c in calls)
    assert [r.call_id for r in results] == [c.call_id for c in calls]
    assert len({r.call_id for r in results}) == len(calls)
    for result, step in zip(results, steps):  # what the model saw: the observation, with the state line after
        assert step["observation"].strip()[:300] in result.content
    assert results[-1].metadata.get("submission") is True and calls[-1].metadata.get("ends_run") is True
    assert not any(c.metadata.get("ends_run") for c in calls[:-1])
    assert trace.steps[-1].metadata == {"event": "exit_status", "exit_status": data["info"]["exit_status"]}
    assert trace.task == name.removesuffix(".traj") and trace.metadata["commands"] == len(steps)
    assert trace.outcome.metrics["api_calls"] == json_stats(data)["api_calls"]
    assert trace.outcome.success is None  # no evaluation ships with these files


def json_stats(data: dict) -> dict:
    stats = data["info"]["model_stats"]
    return stats if isinstance(stats, dict) else eval(stats)  # noqa: S307 - a literal dict in the test data


def test_classic_variant_keeps_thoughts_demonstration_and_an_unknown_model(swe_agent_dir):
    trace, data = _read(swe_agent_dir / CLASSIC)
    assert trace.model is None and trace.id == f"unknown/{trace.task}"
    assert trace.steps[0].kind is StepKind.SYSTEM
    assert trace.steps[1].kind is StepKind.USER and trace.steps[1].metadata == {"demonstration": True}
    thoughts = [s.content for s in trace.steps if s.kind is StepKind.ASSISTANT]
    assert thoughts == [s["thought"].strip() for s in data["trajectory"]]
    assert trace.metadata["submission"] == data["info"]["submission"]


def test_function_calling_variant_keeps_the_function_and_the_model(swe_agent_dir):
    trace, data = _read(swe_agent_dir / FUNCTION_CALLING)
    assert trace.model == "gpt-4o" and trace.id == f"gpt-4o/{trace.task}"
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    functions = [m["tool_calls"][0]["function"] for m in data["history"] if m.get("tool_calls")]
    assert [c.metadata["function"] for c in calls] == [f["name"] for f in functions]
    assert calls[0].metadata["function_arguments"] == json.loads(functions[0]["arguments"])
    assert all(isinstance(r.metadata.get("duration_s"), float) for r in trace.steps if r.kind is StepKind.TOOL_RESULT)


def test_a_reply_that_did_not_run_is_harness_feedback(swe_agent_dir, tmp_path):
    data = json.loads((swe_agent_dir / SMALL).read_text(encoding="utf-8"))
    first = next(i for i, m in enumerate(data["history"]) if m["role"] == "assistant")
    data["history"][first:first] = [
        {"role": "assistant", "content": "Let me think.", "thought": "Let me think.", "action": ""},
        {"role": "user", "content": "Your output was not formatted correctly. You must always include one "
                                    "discussion and one command as part of your response."}]
    path = tmp_path / "fixed.traj"
    path.write_text(json.dumps(data), encoding="utf-8")
    trace, _ = _read(path)
    rejected = [s for s in trace.steps if s.metadata.get("rejected")]
    feedback = [s for s in trace.steps if s.metadata.get("harness_feedback")]
    assert [s.content for s in rejected] == ["Let me think."] and len(feedback) == 1
    assert feedback[0].kind is StepKind.EVENT and feedback[0].agent == "harness"
    assert trace.n_tool_calls == len(data["trajectory"])


def test_the_folder_walk_reads_traj_files(swe_agent_dir):
    results = [r for r in walk([swe_agent_dir]) if isinstance(r, FileResult)]
    assert sorted(Path(r.path).name for r in results) == sorted([CLASSIC, FUNCTION_CALLING, SMALL])
    assert all(r.format == "swe-agent" and len(r.traces) == 1 for r in results)


def test_a_history_that_does_not_line_up_is_read_from_the_trajectory(swe_agent_dir, tmp_path):
    data = json.loads((swe_agent_dir / SMALL).read_text(encoding="utf-8"))
    for message in data["history"]:
        if message["role"] == "assistant":
            message["action"] = "something else"
    path = tmp_path / "odd.traj"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = read_file(path)
    [trace] = result.traces
    assert any("do not line up" in n or "read from the trajectory" in n for n in result.notes)
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    assert [c.content for c in calls] == [s["action"].strip() for s in data["trajectory"]]
    assert trace.steps[0].kind is StepKind.SYSTEM and not any(s.metadata.get("rejected") for s in trace.steps)
