"""SWE-bench runs with bad parts, built in tmp_path from real dev trajectories: a cut trajectory, a reply with
two code blocks that still ran, a <returncode> that is not a number, a report that is not JSON, a report naming
none of the folder's instances. Each is one line naming the file and what is wrong, the rest is read and stored,
and ingest exits 1. Also: a 2 MB info.submission before messages (recognised by name and by a key scan), and
the outcome rules (partial reports, error / empty patch, per-instance report.json, a report given to ingest)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, lacking
from mastlens.adapters.loader import FileResult, read_file, walk
from mastlens.adapters.swe.common import top_level_keys
from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.trace import StepKind

RUN = FIXTURES.parent / "devsets" / "swe_bench" / "gemini-3-pro-mini-swe-agent"
IDS = ("django__django-10097", "django__django-10554", "django__django-10880")
runner = CliRunner()


@pytest.fixture(scope="module")
def real() -> dict[str, dict]:
    if not RUN.is_dir():
        lacking(f"SWE-bench dev set not found at {RUN} (../shared/devsets beside the checkout)")
    return {i: json.loads(gzip.decompress((RUN / "trajs" / i / f"{i}.traj.json.gz").read_bytes())) for i in IDS}


def _folder(tmp_path: Path, real: dict[str, dict], *, report: dict | str | None = None) -> Path:
    run = tmp_path / "run"
    for instance, data in real.items():
        (run / "trajs" / instance).mkdir(parents=True)
        (run / "trajs" / instance / f"{instance}.traj.json").write_text(json.dumps(data), encoding="utf-8")
    (run / "preds.json").write_text(json.dumps({i: {"instance_id": i, "model_patch": ""} for i in real}),
                                    encoding="utf-8")
    if report is not None:
        (run / "sb-cli-reports").mkdir()
        text = report if isinstance(report, str) else json.dumps(report)
        (run / "sb-cli-reports" / "report.json").write_text(text, encoding="utf-8")
    return run


def _real_report() -> dict:
    [path] = (RUN / "sb-cli-reports").glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _ingest(tmp_path: Path, *paths: Path):
    db = tmp_path / "m.db"
    result = runner.invoke(app, ["ingest", *map(str, paths), "--db", str(db)], env={"COLUMNS": "400"})
    with Store(db) as store:
        return result, store.count_traces()


def _failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("failed ")]


def test_a_cut_trajectory_is_one_line_and_the_rest_of_the_folder_is_read(tmp_path, real):
    run = _folder(tmp_path, real, report=_real_report())
    cut = run / "trajs" / IDS[1] / f"{IDS[1]}.traj.json"
    cut.write_bytes(cut.read_bytes()[:20_000])
    result, stored = _ingest(tmp_path, run)
    assert result.exit_code == 1 and stored == 2, result.output
    [line] = _failed_lines(result.output)
    assert f"trajs/{IDS[1]}/{IDS[1]}.traj.json line " in line and "invalid JSON" in line and "truncated" in line
    assert "2 of 2 trajectories matched (it names 231 instances)" in result.output  # a partial run: a note


def test_two_blocks_that_ran_and_a_returncode_that_is_no_number_are_named_and_the_trace_kept(tmp_path, real):
    first = json.loads(json.dumps(real[IDS[0]]))
    messages = first["messages"]
    ran = next(i for i, m in enumerate(messages) if m["role"] == "assistant"
               and messages[i + 1]["content"].startswith("<returncode>0"))
    messages[ran]["content"] += "\n\n```bash\necho second\n```"
    odd = next(i for i, m in enumerate(messages) if i > ran + 1 and m["content"].startswith("<returncode>"))
    messages[odd]["content"] = re.sub(r"<returncode>\d+</returncode>", "<returncode>zero</returncode>",
                                      messages[odd]["content"], count=1)
    run = _folder(tmp_path, {**real, IDS[0]: first}, report=_real_report())
    results = [r for r in walk([run]) if isinstance(r, FileResult)]
    [result] = results
    reasons = [f.describe() for f in result.failures]
    assert len(reasons) == 2 and len(result.traces) == 3
    where = f"trajs/{IDS[0]}/{IDS[0]}.traj.json"
    assert any(f"{where}: messages[{ran}]: the harness ran a command but the reply has 2 bash blocks" in r
               for r in reasons)
    assert any(f"{where}: messages[{odd}]: <returncode> is not a number ('zero')" in r for r in reasons)
    trace = next(t for t in result.traces if t.task == IDS[0])
    results_without_code = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT and "exit_code" not in s.metadata
                            and not s.metadata.get("submission")]
    assert len(results_without_code) == 1
    cli, stored = _ingest(tmp_path, run)
    assert cli.exit_code == 1 and len(_failed_lines(cli.output)) == 2 and stored == 3


def test_a_report_that_is_not_json_is_named_and_the_runs_are_read(tmp_path, real):
    run = _folder(tmp_path, real, report='{"resolved_ids": ["django__django-10097",')
    result, stored = _ingest(tmp_path, run)
    assert result.exit_code == 1 and stored == 3
    [line] = _failed_lines(result.output)
    assert "evaluation report sb-cli-reports/report.json line 1: invalid JSON" in line and "truncated" in line


def test_a_report_naming_none_of_the_instances_is_an_error_of_that_report(tmp_path, real):
    run = _folder(tmp_path, real, report={"resolved_ids": ["astropy__astropy-12907"], "unresolved_ids": []})
    [result] = [r for r in walk([run]) if isinstance(r, FileResult)]
    [failure] = result.failures
    assert "sb-cli-reports/report.json names none of the folder's 3 instances (it names 1 other)" in failure.reason
    assert all(t.outcome.success is None for t in result.traces) and len(result.traces) == 3
    assert _ingest(tmp_path, run)[0].exit_code == 1


def test_error_and_empty_patch_are_unknown_with_the_reason(tmp_path, real):
    report = {"resolved_ids": [IDS[0]], "error_ids": [IDS[1]], "empty_patch_ids": [IDS[2]], "unresolved_ids": []}
    [result] = [r for r in walk([_folder(tmp_path, real, report=report)]) if isinstance(r, FileResult)]
    by_task = {t.task: t for t in result.traces}
    assert by_task[IDS[0]].outcome.success is True
    for instance, reason in ((IDS[1], "errored"), (IDS[2], "empty")):
        trace = by_task[instance]
        assert trace.outcome.success is None and trace.outcome.score is None
        assert reason in trace.metadata["evaluation"]["reason"] and reason in trace.metadata["notes"][0]


def test_per_instance_reports_give_the_outcome_and_the_test_names(tmp_path, real):
    run = _folder(tmp_path, real)
    logs = run / "logs" / "run_evaluation" / "run1" / "gemini"
    tests = {"FAIL_TO_PASS": {"success": ["test_a (x.Tests)"], "failure": ["test_b (x.Tests)"]},
             "PASS_TO_PASS": {"success": ["test_c (x.Tests)", "test_d (x.Tests)"], "failure": []}}
    for instance, resolved in ((IDS[0], False), (IDS[1], True)):
        (logs / instance).mkdir(parents=True)
        (logs / instance / "report.json").write_text(json.dumps({instance: {
            "patch_is_None": False, "patch_exists": True, "resolved": resolved, "tests_status": tests}}))
    [result] = [r for r in walk([run]) if isinstance(r, FileResult)]
    assert not result.failures
    by_task = {t.task: t for t in result.traces}
    assert by_task[IDS[0]].outcome.success is False and by_task[IDS[1]].outcome.success is True
    assert by_task[IDS[2]].outcome.success is None
    metrics = by_task[IDS[0]].outcome.metrics
    assert metrics["failing_tests"] == ["test_b (x.Tests)"]
    assert metrics["passing_tests"] == ["test_a (x.Tests)", "test_c (x.Tests)", "test_d (x.Tests)"]
    assert metrics["fail_to_pass_failed"] == 1 and metrics["pass_to_pass_passed"] == 2
    assert "2 of 2 per-instance evaluation reports matched a trajectory" in result.notes


def test_a_run_report_given_to_the_same_ingest_is_the_outcome(tmp_path, real):
    run = _folder(tmp_path, real)
    report = tmp_path / "gemini.run1.json"  # the harness's <model>.<run_id>.json
    report.write_text(json.dumps({"resolved_ids": [IDS[0]], "unresolved_ids": [IDS[1], IDS[2]],
                                  "submitted_ids": list(IDS)}), encoding="utf-8")
    results = list(walk([run, report]))
    skipped = [r for r in results if not isinstance(r, FileResult)]
    assert [s.path for s in skipped] == [str(report)] and "evaluation report" in skipped[0].reason
    [folder] = [r for r in results if isinstance(r, FileResult)]
    assert [t.outcome.success for t in sorted(folder.traces, key=lambda t: t.task)] == [True, False, False]
    assert any("gemini.run1.json: 3 of 3 trajectories matched" in n for n in folder.notes)
    cli, _ = _ingest(tmp_path, run, report)
    assert cli.exit_code == 0, cli.output
    single = run / "trajs" / IDS[0] / f"{IDS[0]}.traj.json"  # one trajectory and the report, given together
    [alone] = [r for r in walk([single, report]) if isinstance(r, FileResult)]
    assert alone.format == "mini-swe-agent" and alone.traces[0].outcome.success is True


def test_a_run_stopped_by_its_limits_ends_on_the_harness_stop(tmp_path, real):
    data = json.loads(json.dumps(real[IDS[0]]))
    data["info"]["exit_status"] = "LimitsExceeded"
    data["messages"] = data["messages"][:-2] + [{"role": "user", "content": ""}]  # no submission; mini's empty stop
    path = tmp_path / f"{IDS[0]}.traj.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    [trace] = read_file(path).traces
    assert trace.steps[-1].metadata == {"event": "exit_status", "exit_status": "LimitsExceeded"}
    assert trace.steps[-2].kind is StepKind.TOOL_RESULT and "exit_code" in trace.steps[-2].metadata
    assert not any(s.kind is StepKind.USER for s in trace.steps[2:])
    assert not any(s.metadata.get("ends_run") or s.metadata.get("submission") for s in trace.steps)


def test_the_harness_run_report_in_the_folder_is_read(tmp_path, real):
    run = _folder(tmp_path, real)
    (run / "google__gemini.run1.json").write_text(json.dumps({
        "resolved_ids": [IDS[1]], "unresolved_ids": [IDS[0]], "empty_patch_ids": [], "error_ids": [IDS[2]],
        "submitted_ids": list(IDS), "completed_ids": IDS[:2]}), encoding="utf-8")
    [result] = [r for r in walk([run]) if isinstance(r, FileResult)]
    assert not result.failures
    assert {t.task: t.outcome.success for t in result.traces} == {IDS[0]: False, IDS[1]: True, IDS[2]: None}
    assert "evaluation report google__gemini.run1.json: 3 of 3 trajectories matched (it names 3 instances)" \
        in result.notes


def test_the_flat_layout_with_a_log_is_a_run_folder_too(tmp_path, real):
    run = tmp_path / "flat"
    for instance, data in real.items():  # <id>/<id>.traj.json, no trajs/, no preds.json
        (run / instance).mkdir(parents=True)
        (run / instance / f"{instance}.traj.json").write_text(json.dumps(data), encoding="utf-8")
    (run / "minisweagent.log").write_text("INFO started\n", encoding="utf-8")
    (run / "exit_statuses_1.yaml").write_text(
        "instances_by_exit_status:\n  Submitted:\n  - " + "\n  - ".join(IDS) + "\n  - django__django-99999\n",
        encoding="utf-8")
    [result] = [r for r in walk([run]) if isinstance(r, FileResult)]
    assert result.format == "mini-swe-agent-run" and len(result.traces) == 3 and not result.failures
    assert "1 instances in preds.json or exit_statuses_*.yaml have no trajectory here (e.g. django__django-99999)" \
        in result.notes and "no SWE-bench evaluation report found or given: outcomes unknown" in result.notes


def _big_submission(real: dict[str, dict]) -> dict:
    data = json.loads(json.dumps(real[IDS[0]]))
    patch = "".join(f"diff --git a/build/f{i}.o b/build/f{i}.o\n+{'x' * 90}\n" for i in range(20_000))
    assert len(patch) > 2_000_000
    data["info"]["submission"] = patch
    assert list(data)[:2] == ["info", "messages"]  # the patch comes before messages and trajectory_format
    return data


@pytest.mark.parametrize("name", ["django__django-10097.traj.json", "run.json", "run.json.gz"])
def test_a_2_mb_submission_before_the_messages_is_still_recognised(tmp_path, real, name):
    data = _big_submission(real)
    raw = json.dumps(data).encode("utf-8")
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    result = read_file(path)
    assert result.format == "mini-swe-agent", [f.describe() for f in result.failures]
    [trace] = result.traces
    assert trace.metadata["submission_chars"] == len(data["info"]["submission"])
    assert len(trace.metadata["submission"]) < 10_000 and trace.metadata["submission_sha256"]
    assert len(trace.model_dump_json()) < len(raw) - 1_500_000  # the patch is not stored whole
    assert trace.n_tool_calls == real_calls(real[IDS[0]])


def real_calls(data: dict) -> int:
    answers = [m["content"] for m in data["messages"][2:] if m["role"] == "user"]
    return sum(1 for a in answers if not a.startswith("Please always provide EXACTLY ONE action"))


def test_a_big_first_value_of_another_shape_is_not_taken(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"info": {"blob": "y" * 200_000}, "rows": [1, 2]}), encoding="utf-8")
    assert read_file(path).format != "mini-swe-agent"


def test_the_key_scan_reads_past_any_string_at_any_chunk_end(tmp_path):
    """Strings of escapes (backslashes, quotes) cut at every offset of a read chunk: the keys are the file's."""
    for pad in range(0, 9):
        head = len('{"info": {"submission": "')  # the first read (64 KiB) ends `pad` characters into the escapes
        value = "a" * (65_536 - head - pad) + '\\"q\\\\' * 40 + "\n" * 3
        data = {"info": {"submission": value, "list": [value, {"k": value}]}, "messages": [], "trajectory_format": "x"}
        path = tmp_path / f"t{pad}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        assert path.read_text(encoding="utf-8")[65_536 - pad] == "\\"
        assert top_level_keys(path) == list(data), pad
    (tmp_path / "cut.json").write_text('{"info": {"submission": "ab\\', encoding="utf-8")
    assert top_level_keys(tmp_path / "cut.json") == ["info"]
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    assert top_level_keys(tmp_path / "list.json") == []
