"""mini-swe-agent trajectories and output folders, read from the real dev set (../shared/devsets/swe_bench):
every executed command a bash tool call with its exit status, format rejections as harness feedback, the
model, and the outcome from the folder's sb-cli report (179 of 231 resolved)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, lacking
from mastlens.adapters.loader import FileResult, read_file, walk
from mastlens.cli.app import app
from mastlens.trace import StepKind
from mastlens.trace.model_names import group_model

RUN = FIXTURES.parent / "devsets" / "swe_bench" / "gemini-3-pro-mini-swe-agent"
MODEL = "google/gemini-3-pro-preview"


@pytest.fixture(scope="module")
def run_dir() -> Path:
    if not RUN.is_dir():
        lacking(f"SWE-bench dev set not found at {RUN} (../shared/devsets beside the checkout)")
    return RUN


@pytest.fixture(scope="module")
def folder_result(run_dir: Path) -> FileResult:
    [result] = [r for r in walk([run_dir]) if isinstance(r, FileResult)]
    return result


def _messages(path: Path) -> list[dict]:
    return json.loads(gzip.decompress(path.read_bytes()))["messages"]


def _sb_cli_report(run_dir: Path) -> dict:
    [report] = (run_dir / "sb-cli-reports").glob("*.json")
    return json.loads(report.read_text(encoding="utf-8"))


def test_the_folder_is_one_trace_per_instance_with_the_reports_outcome(run_dir, folder_result):
    assert folder_result.format == "mini-swe-agent-run" and not folder_result.failures
    report = _sb_cli_report(run_dir)
    traces = {t.task: t for t in folder_result.traces}
    assert len(traces) == 231 == len(list((run_dir / "trajs").iterdir()))
    resolved = {task for task, t in traces.items() if t.outcome.success}
    assert resolved == set(report["resolved_ids"]) and len(resolved) == 179
    assert {task for task, t in traces.items() if t.outcome.success is False} == set(report["unresolved_ids"])
    assert all(t.outcome.success_from == "source" and t.outcome.score == float(t.outcome.success)
               for t in traces.values())
    # ten runs went through Portkey, which writes the provider as "@google/"; one model group all the same
    assert {t.model for t in traces.values()} == {MODEL, f"@{MODEL}"}
    assert {group_model(t.model) for t in traces.values()} == {"gemini-3-pro-preview"}
    assert all(t.id == f"gemini-3-pro-preview/{t.task}" for t in traces.values())
    [note] = folder_result.notes
    assert "231 of 231 trajectories matched" in note


def test_each_executed_command_is_one_bash_call_with_its_exit_status(run_dir, folder_result):
    traces = {t.task: t for t in folder_result.traces}
    for traj in sorted((run_dir / "trajs").glob("*/*.traj.json.gz")):
        messages = _messages(traj)
        trace = traces[traj.name.removesuffix(".traj.json.gz")]
        answers = [m["content"] for m in messages[2:] if m["role"] == "user"]
        codes = [int(m.group(1)) for a in answers if (m := re.match(r"<returncode>(-?\d+)</returncode>", a))]
        rejected = [a for a in answers if a.startswith("Please always provide EXACTLY ONE action")]
        calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
        results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
        assert len(calls) == len(answers) - len(rejected) == len(results), traj.name
        assert all(c.tool == "bash" and c.arguments["command"] == c.content for c in calls)
        assert [r.metadata["exit_code"] for r in results if "exit_code" in r.metadata] == codes
        assert [r.call_id for r in results] == [c.call_id for c in calls]
        feedback = [s for s in trace.steps if s.metadata.get("harness_feedback")]
        assert len(feedback) == len(rejected) and all(s.kind is StepKind.EVENT for s in feedback)
        assert trace.steps[-1].metadata == {"event": "exit_status", "exit_status": "Submitted"}
        assert trace.metadata["commands"] == len(calls)


def test_a_trajectory_keeps_thoughts_reasoning_task_and_stats(run_dir):
    path = run_dir / "trajs" / "django__django-10097" / "django__django-10097.traj.json.gz"
    result = read_file(path)
    assert result.format == "mini-swe-agent" and not result.failures
    [trace] = result.traces
    data = json.loads(gzip.decompress(path.read_bytes()))
    first = data["messages"][2]["content"]
    assert [s.kind for s in trace.steps[:6]] == [StepKind.SYSTEM, StepKind.USER, StepKind.REASONING,
                                                 StepKind.ASSISTANT, StepKind.TOOL_CALL, StepKind.TOOL_RESULT]
    assert trace.steps[3].content == first.split("```")[0].strip() and trace.steps[3].content.startswith("THOUGHT:")
    assert trace.steps[1].content == data["messages"][1]["content"]
    assert data["messages"][3]["content"] == "<returncode>0</returncode>\n<output>\nvalidators.py\n</output>"
    assert trace.steps[5].content == "validators.py" and trace.steps[5].metadata == {"exit_code": 0}
    stats = data["info"]["model_stats"]
    assert trace.outcome.metrics["api_calls"] == stats["api_calls"]
    assert trace.outcome.metrics["cost"] == pytest.approx(stats["instance_cost"])
    assert trace.metadata["submission"] == data["info"]["submission"]
    assert trace.steps[-2].metadata.get("submission") is True and trace.steps[-3].metadata == {"ends_run": True}
    # read alone, the file still finds the folder's report above it: the same trace as read with the folder
    assert trace.outcome.success is ("django__django-10097" in _sb_cli_report(run_dir)["resolved_ids"])


def test_a_trajectory_read_alone_is_the_trace_the_folder_gives(run_dir, folder_result):
    by_task = {t.task: t for t in folder_result.traces}
    for path in sorted((run_dir / "trajs").glob("*/*.traj.json.gz"))[:20]:
        [alone] = read_file(path).traces
        assert alone.content_hash() == by_task[alone.task].content_hash()


def test_long_output_warnings_and_timeouts_stay_in_the_result(run_dir, folder_result):
    cut = [s for t in folder_result.traces for s in t.steps if s.metadata.get("output_cut")]
    assert cut and all("<warning>" in s.content and "characters elided" in s.content for s in cut)
    answers = [m["content"] for p in sorted((run_dir / "trajs").glob("*/*.traj.json.gz")) for m in _messages(p)[2:]
               if m["role"] == "user"]
    assert len(cut) == sum(1 for a in answers if a.startswith("<returncode>") and "<warning>" in a[:200])
    timeouts = [s for t in folder_result.traces for s in t.steps if s.metadata.get("timed_out")]
    assert len(timeouts) == sum(1 for a in answers if a.startswith("The last command <command>")) > 0
    assert all(s.kind is StepKind.TOOL_RESULT and s.metadata["is_error"] and "exit_code" not in s.metadata
               for s in timeouts)


def test_show_prints_each_command_with_its_exit_status_on_one_line(run_dir):
    path = run_dir / "trajs" / "django__django-10097" / "django__django-10097.traj.json.gz"
    shown = CliRunner().invoke(app, ["show", str(path)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    [trace] = read_file(path).traces
    lines = shown.output.splitlines()
    results = {s.call_id: s for s in trace.steps if s.kind is StepKind.TOOL_RESULT}
    for call in (s for s in trace.steps if s.kind is StepKind.TOOL_CALL):
        code = results[call.call_id].metadata.get("exit_code")
        if code is None:
            continue  # the submission: its output is the patch, no exit status
        first, *more = call.content.splitlines()
        tail = f"  [+{len(more)} lines]" if more else ""
        assert f"step {call.index} | tool_call | bash  exit {code}  $ {first}{tail}" in lines
