"""The tau2-bench Results reader on the real airline Results files of ../shared/devsets/tau2 and on
constructed bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from _read import read_as
from conftest import FIXTURES, lacking

from mastlens.adapters.loader import FileResult, read_file, walk
from mastlens.trace import StepKind

DEVSET = FIXTURES.parent / "devsets" / "tau2"


@pytest.fixture
def results_files() -> list[Path]:
    files = sorted(DEVSET.glob("*.json")) if DEVSET.is_dir() else []
    if not files:
        lacking(f"tau2 dev set not found at {DEVSET} (see ../shared/devsets/README.md)")
    return files


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_simulation_is_one_trace_with_its_reward(results_files):
    traces = [t for path in results_files for t in read_as(path, "tau2").traces]
    simulations = [s for path in results_files for s in _raw(path)["simulations"]]
    assert len(traces) == len(simulations) == 61
    assert sum(t.outcome.success for t in traces) == 34
    assert len({t.id for t in traces}) == 61  # the same task and trial in two files stay two traces
    for trace, sim in zip(traces, simulations):
        assert trace.metadata["simulation_id"] == sim["id"] and trace.metadata["trial"] == sim["trial"]
        assert trace.id.startswith(f"tau2-airline-{sim['task_id']}-{sim['trial']}-")
        assert trace.task == f"airline/{sim['task_id']}" and trace.system == "tau2-bench"
        assert trace.outcome.score == sim["reward_info"]["reward"]
        assert trace.outcome.success is (sim["reward_info"]["reward"] >= 1) and trace.outcome.success_from == "rule"
        calls = [c for m in sim["messages"] for c in (m.get("tool_calls") or [])]
        assert [s.tool for s in trace.steps if s.kind is StepKind.TOOL_CALL] == [c["name"] for c in calls]
        results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
        assert len(results) == sum(m["role"] == "tool" for m in sim["messages"])
        assert [s.index for s in trace.steps] == list(range(len(trace.steps)))


def test_policy_model_messages_and_tool_pairing(results_files):
    raw = _raw(results_files[0])
    trace = read_file(results_files[0]).traces[0]
    sim = raw["simulations"][0]
    assert trace.model == raw["info"]["agent_info"]["llm"] == "xai/grok-3"
    assert trace.metadata["user_model"] == raw["info"]["user_info"]["llm"]
    system = trace.steps[0]
    assert system.kind is StepKind.SYSTEM and system.content == raw["info"]["environment_info"]["policy"]
    spoken = [s for s in trace.steps if s.kind in (StepKind.USER, StepKind.ASSISTANT)]
    said = [m for m in sim["messages"] if m["role"] != "tool" and m["content"]]
    assert [(s.kind.value, s.content) for s in spoken] == [(m["role"], m["content"]) for m in said]
    by_call = {s.call_id: s for s in trace.steps if s.kind is StepKind.TOOL_CALL}
    for result in (s for s in trace.steps if s.kind is StepKind.TOOL_RESULT):
        call = by_call[result.call_id]
        assert call.index < result.index and result.tool == call.tool
    first = next(c for m in sim["messages"] for c in (m.get("tool_calls") or []))
    assert by_call[first["id"]].arguments == first["arguments"]


def test_checks_in_metrics_and_the_end_event(results_files):
    raw = _raw(results_files[0])
    traces = read_file(results_files[0]).traces
    for trace, sim in zip(traces, raw["simulations"]):
        info = sim["reward_info"]
        metrics = trace.outcome.metrics
        if info["db_check"] is None:  # the max_steps run: no checks, the evaluator's note kept
            assert "db_reward" not in metrics and "prematurely" in trace.metadata["reward_note"]
        else:
            assert metrics["db_reward"] == info["db_check"]["db_reward"]
            assert metrics["db_match"] is info["db_check"]["db_match"]
        for key in ("action_checks", "communicate_checks", "nl_assertions"):
            assert metrics.get(key) == (info[key] or None)
        if info["action_checks"]:
            assert metrics["action_met"] == sum(c["action_match"] for c in info["action_checks"])
        end = trace.steps[-1]
        assert end.kind is StepKind.EVENT and end.metadata["termination_reason"] == sim["termination_reason"]
    reasons = Counter(t.metadata["termination_reason"] for t in traces)
    assert reasons == Counter(s["termination_reason"] for s in raw["simulations"]) and "max_steps" in reasons


def _results(simulations: list) -> dict:
    return {"timestamp": "2025-01-01T00:00:00", "info": {
        "agent_info": {"implementation": "llm_agent", "llm": "openai/gpt-4.1"},
        "user_info": {"implementation": "user_simulator", "llm": "openai/gpt-4.1-mini"},
        "environment_info": {"domain_name": "retail", "policy": "Be kind."}}, "tasks": [], "simulations": simulations}


def _simulation(sim_id: str, task_id: str, reward: float, **extra) -> dict:
    messages = [{"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "Cancel order 7."},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "name": "cancel_order", "arguments": {"order_id": 7}, "requestor": "assistant"}]},
                {"role": "tool", "id": "c1", "content": "Error: order 7 shipped", "error": True, "requestor": "assistant"},
                {"role": "user", "content": "###STOP###"}]
    return {"id": sim_id, "task_id": task_id, "trial": 0, "termination_reason": "user_stop",
            "reward_info": {"reward": reward, "db_check": {"db_match": reward == 1, "db_reward": reward}},
            "messages": messages, **extra}


def test_a_constructed_file_reads_as_documented(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results([_simulation("abcdef0123", "7", 1.0), _simulation("ff", "8", 0.0)]),
                               indent=2), encoding="utf-8")
    first, second = read_as(path, "tau2").traces
    assert first.id == "tau2-retail-7-0-abcdef01" and first.model == "openai/gpt-4.1"
    assert first.outcome.success is True and second.outcome.success is False
    result = next(s for s in first.steps if s.kind is StepKind.TOOL_RESULT)
    assert result.tool == "cancel_order" and result.metadata["is_error"] is True
    assert [s.kind.value for s in first.steps] == ["system", "assistant", "user", "tool_call", "tool_result",
                                                   "user", "event"]


def test_a_success_rule_decides_over_the_reward(tmp_path):
    from mastlens.adapters.base import ReadContext
    from mastlens.trace import SuccessRule

    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results([_simulation("a1", "1", 0.5)])), encoding="utf-8")
    (trace,) = read_file(path, ctx=ReadContext(success_rule=SuccessRule.parse("score>=0.5"))).traces
    assert trace.outcome.success is True and trace.outcome.score == 0.5


def test_no_simulations_is_zero_traces_with_a_note(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(_results([])), encoding="utf-8")
    result = read_file(path)
    assert result.format == "tau2" and result.traces == [] and result.failures == []
    assert any("no simulations" in note for note in result.notes)


def test_a_simulation_without_messages_is_one_error_and_the_rest_read(tmp_path):
    broken = _simulation("dead0000", "9", 1.0)
    del broken["messages"]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results([_simulation("a1", "1", 1.0), broken, _simulation("b2", "2", 0.0)])),
                    encoding="utf-8")
    result = read_file(path)
    assert [t.metadata["task_id"] for t in result.traces] == ["1", "2"]
    (failure,) = result.failures
    assert failure.record == 1 and failure.format == "tau2"
    line = failure.describe()
    assert str(path) in line and "simulation 1 (id dead0000, task_id 9)" in line and "no messages" in line


def test_bad_json_and_a_wrong_shape_are_clear_failures(tmp_path):
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(_results([_simulation("a1", "1", 1.0)]), indent=2)[:-40], encoding="utf-8")
    (failure,) = read_file(cut, "tau2").failures
    assert "invalid JSON" in failure.reason and failure.line
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps({**_results([]), "simulations": {"a": 1}}), encoding="utf-8")
    (failure,) = read_file(listed, "tau2").failures
    assert "simulations is not a list" in failure.reason


def test_a_folder_of_results_files(tmp_path, results_files):
    for path in results_files:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "empty.json").write_text(json.dumps(_results([])), encoding="utf-8")
    results = [r for r in walk([tmp_path]) if isinstance(r, FileResult)]
    assert all(r.format == "tau2" and not r.failures for r in results)
    traces = [t for r in results for t in r.traces]
    assert len(traces) == 61 and {t.model for t in traces} == {"xai/grok-3"}


def test_ingest_says_what_failed_and_the_exit_code_says_so(tmp_path):
    from typer.testing import CliRunner

    from mastlens.cli.app import app

    broken = _simulation("dead0000", "9", 1.0)
    del broken["messages"]
    bad, empty = tmp_path / "bad.json", tmp_path / "empty.json"
    bad.write_text(json.dumps(_results([_simulation("a1", "1", 1.0), broken])), encoding="utf-8")
    empty.write_text(json.dumps(_results([])), encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(bad), str(empty), "--db", str(tmp_path / "m.db")])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "1 new or changed" in output and "1 failed" in output
    assert f"{bad} (record 1) [read as tau2]: simulation 1 (id dead0000, task_id 9): has no messages list" in output
    assert f"{empty}: tau2-bench Results file with no simulations (0 traces)" in output
