"""Golden tests of the ITBench run-folder adapter: layouts, ids, scores, diagnosis, success rules."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from conftest import EXAMPLES
from itbench_factory import ROOT, big_run, evaluation_results, write_run

from mastlens.adapters.loader import FileResult, FileSkip, load_traces, walk
from mastlens.store.ingest import ingest
from mastlens.trace import StepKind

# the hand-picked runs examples/README.md describes: id -> (pattern, diagnosis status, root-cause recall)
EXPECTED = {
    "gemini-3-flash/scenario_2/1": ("clean", "present", 1.0),
    "gemini-3-flash/scenario_3/1": ("clean", "present", 1.0),
    "gemini-3-flash/scenario_2/2": ("ignored_error", "missing", 0.0),
    "kimi-k2/scenario_2/1": ("turn_limit", "missing", 0.0),
    "kimi-k2/scenario_3/1": ("no_output", "missing", 0.0),
    "kimi-k2/scenario_2/2": ("remediation", "present", 1.0),
    "gpt-oss-120b/scenario_2/1": ("loop", "present", 0.0),
    "gpt-oss-120b/scenario_3/1": ("empty_entities", "empty", 0.0),
    "gpt-oss-120b/scenario_2/2": ("task_reissued", "present", 0.0),
}
# what each pattern leaves behind: (diagnosis status, root-cause recall)
PATTERN_FACTS = {
    "clean": ("present", 1.0), "recovered_error": ("present", 1.0), "recheck": ("present", 1.0),
    "remediation": ("present", 1.0), "loop": ("present", 0.0), "task_reissued": ("present", 0.0),
    "empty_entities": ("empty", 0.0), "ignored_error": ("missing", 0.0), "turn_limit": ("missing", 0.0),
    "no_output": ("missing", 0.0),
}


def bundled_runs() -> dict[str, tuple[str, str, float]]:
    """Every run make_examples.py writes: id -> (pattern, diagnosis status, root-cause recall)."""
    sys.path.insert(0, str(EXAMPLES))
    from make_examples import RUNS

    return {f"{folder}/{scenario}/{run}": (pattern, *PATTERN_FACTS[pattern])
            for folder, _, scenario, run, pattern in RUNS}


def results(path: Path, rule: str | None = None):
    from mastlens.trace import SuccessRule

    out = list(walk([path], "auto", SuccessRule.parse(rule)))
    return [r for r in out if isinstance(r, FileResult)], [r for r in out if isinstance(r, FileSkip)]


def test_bundled_examples(tmp_path):
    read, skipped = results(EXAMPLES / "itbench")
    assert all(not r.failures for r in read), [f.describe() for r in read for f in r.failures]
    traces = {t.id: t for r in read for t in r.traces}
    runs = bundled_runs()
    assert set(traces) == set(runs) and EXPECTED.items() <= runs.items()
    for model in ("gemini-3-flash", "kimi-k2", "gpt-oss-120b"):  # enough runs per model for a signature
        outcomes = [t.outcome.success for tid, t in traces.items() if tid.startswith(model + "/")]
        assert len(outcomes) >= 8 and outcomes.count(True) >= 5 and outcomes.count(False) >= 5, model
    for tid, (pattern, status, recall) in runs.items():
        t = traces[tid]
        assert t.source.format == "itbench" and t.model == tid.split("/")[0], tid
        assert t.task == tid.split("/")[1] and t.metadata["run"] == tid.split("/")[2]
        assert t.metadata["diagnosis_status"] == status, tid
        assert (t.metadata["diagnosis"] is None) == (status == "missing")
        assert t.outcome.score == recall and t.outcome.success is (recall >= 1), tid
        assert t.outcome.metrics["root_cause_entity_recall"] == recall
        assert t.metadata["judge"]["gt_entities"] == [ROOT]
        assert t.steps[0].kind is StepKind.SYSTEM and t.n_tool_calls >= 5
    assert not skipped
    assert {t.id for t in load_traces(EXAMPLES) if t.source.format == "itbench"} == set(runs)
    total = sum(p.stat().st_size for p in (EXAMPLES / "itbench").rglob("*") if p.is_file())
    assert total < 2_000_000
    # the failure shapes the examples were written to contain
    loop = traces["gpt-oss-120b/scenario_2/1"]
    commands = [s.content for s in loop.steps if s.kind is StepKind.TOOL_CALL]
    assert max(commands.count(c) for c in commands) == 5
    assert any(s.metadata.get("event") == "turn_aborted" for s in traces["kimi-k2/scenario_2/1"].steps)
    remediation = [s.content for s in traces["kimi-k2/scenario_2/2"].steps if s.kind is StepKind.TOOL_CALL]
    assert any(c.startswith("kubectl patch configmap flagd-config") for c in remediation)
    ignored = traces["gemini-3-flash/scenario_2/2"]
    assert [s.metadata["exit_code"] for s in ignored.steps if s.kind is StepKind.TOOL_RESULT][-2:] == [1, 2]
    assert "validated" in ignored.steps[-1].content


def test_examples_are_what_the_generator_writes(tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    from make_examples import main

    main(tmp_path / "itbench")
    made = sorted(p.relative_to(tmp_path / "itbench") for p in (tmp_path / "itbench").rglob("*") if p.is_file())
    bundled = sorted(p.relative_to(EXAMPLES / "itbench") for p in (EXAMPLES / "itbench").rglob("*") if p.is_file())
    assert made == bundled
    for rel in made:
        assert (tmp_path / "itbench" / rel).read_bytes() == (EXAMPLES / "itbench" / rel).read_bytes(), rel


def test_model_scenario_run_layout_with_big_rollout(tmp_path):
    root = tmp_path / "runs"
    facts = big_run(root / "gpt-5" / "scenario_2" / "3", scale=300)
    read, _ = results(root)
    (trace,) = [t for r in read for t in r.traces]
    assert trace.id == "gpt-5/scenario_2/3" and trace.model == "gpt-5"
    assert trace.metadata["rollout_model"] == facts.model
    assert trace.n_tool_calls == facts.tool_calls
    codes = [s.metadata["exit_code"] for s in trace.steps if s.kind is StepKind.TOOL_RESULT and s.tool == "shell"]
    assert codes == facts.exit_codes
    assert facts.biggest_output in [s.content for s in trace.steps]
    assert trace.metadata["sessions"][0]["session_id"] == facts.session_id
    assert trace.metadata["tokens"] == trace.metadata["sessions"][0]["tokens"]
    assert trace.metadata["tokens"]["total_tokens"] > 0
    assert trace.metadata["diagnosis"]["entities"][0]["name"] == ROOT
    # the id is the same whichever folder is given: the run itself or a parent further up
    (alone,) = load_traces(root / "gpt-5" / "scenario_2" / "3")
    (above,) = load_traces(tmp_path)
    assert alone.id == above.id == "gpt-5/scenario_2/3" and above.model == "gpt-5"
    assert alone.content_hash() == trace.content_hash()  # no absolute paths in what the trace says


def test_success_rule_changes_success(tmp_path, store):
    run = tmp_path / "m" / "scenario_2" / "1"
    gt = [ROOT, "otel-demo/Deployment/flagd"]
    write_run(run, model="kimi-k2-thinking", pattern="clean", ground_truth=gt)
    (default,) = load_traces(tmp_path)
    assert default.outcome.score == 0.5 and default.outcome.success is False
    (lenient,) = load_traces(tmp_path, success_rule="score>0")
    assert lenient.outcome.success is True and lenient.outcome.success_from == "rule"
    report = ingest([tmp_path], store, success_rule="score>0")
    assert report.ingested == 1 and not report.failed
    assert store.get_trace("m/scenario_2/1").outcome.success is True


def test_agent_outputs_layout_with_evaluation_results(tmp_path):
    base = tmp_path / "ITBench-SRE-Agent"
    runs = []
    for incident, trial, pattern in (("2", "1", "clean"), ("2", "2", "no_output"), ("Scenario-3", "1", "loop")):
        scenario = "scenario_2" if incident == "2" else "scenario_3"
        run = base / "agent_outputs" / incident / trial
        write_run(run, model="gpt-5.1-codex-max", scenario=scenario, pattern=pattern, judge=False)
        (run / "AGENTS.md").write_text("instructions\n")
        (run / "config.toml").write_text('profile = "sre"\n')
        (run / "agent_remediation.json").write_text(json.dumps({"remediation_plan": [{"action": f"fix {trial}"}]}))
        runs.append((run, scenario, "3" if incident.startswith("Scenario") else incident, trial))
    evaluation_results(base / "evaluation_results.json", runs)
    read, skipped = results(base)
    assert [r.path for r in read] == [str(r[0]) for r in sorted(runs, key=lambda r: str(r[0]))]
    assert not [f for r in read for f in r.failures]
    assert [(s.path, "evaluation results" in s.reason) for s in skipped] == [(str(base / "evaluation_results.json"), True)]
    traces = {t.id: t for r in read for t in r.traces}
    assert set(traces) == {"gpt-5.1-codex-max/2/1", "gpt-5.1-codex-max/2/2", "gpt-5.1-codex-max/Scenario-3/1"}
    assert {t.model for t in traces.values()} == {"gpt-5.1-codex-max"}
    assert traces["gpt-5.1-codex-max/2/1"].outcome.score == 1.0
    assert traces["gpt-5.1-codex-max/2/2"].outcome.score == 0.0
    assert traces["gpt-5.1-codex-max/2/2"].metadata["diagnosis_status"] == "missing"
    assert traces["gpt-5.1-codex-max/Scenario-3/1"].outcome.score == 0.0  # matched by canonical id 3
    assert traces["gpt-5.1-codex-max/2/1"].metadata["judge"]["source"] == "evaluation_results"
    assert traces["gpt-5.1-codex-max/2/2"].metadata["remediation_plan"]["remediation_plan"] == [{"action": "fix 2"}]
    # read from inside: the scores above the walk root are still found
    (inside,) = load_traces(base / "agent_outputs" / "2" / "1")
    assert inside.outcome.score == 1.0 and inside.metadata["layout"] == "agent_outputs"


def test_several_sessions_and_damaged_files(tmp_path):
    run = tmp_path / "m" / "scenario_3" / "1"
    write_run(run, model="gemini-3-flash-preview", scenario="scenario_3", pattern="clean", seed=1)
    write_run(tmp_path / "other", model="gemini-3-flash-preview", scenario="scenario_3", pattern="remediation", seed=2)
    second = next((tmp_path / "other").rglob("rollout-*.jsonl"))
    target = run / "sessions" / "2026" / "01" / "16" / second.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(second, target)
    (run / "judge_output.json").write_text('{"eval_result": {"scores": ')
    read, _ = results(tmp_path / "m")
    (result,) = read
    assert len(result.traces) == 2  # one trace per rollout, each its own timeline
    assert all(len(t.metadata["sessions"]) == 1 and t.steps[0].index == 0 for t in result.traces)
    assert len({t.id for t in result.traces}) == 2 and all(t.id.startswith("m/scenario_3/1/") for t in result.traces)
    assert [f.format for f in result.failures] == ["itbench"]
    assert "judge_output.json" in result.failures[0].reason
    assert all(t.outcome.score is None and t.outcome.success is None for t in result.traces)


def test_empty_and_missing_diagnosis(tmp_path):
    run = tmp_path / "m" / "scenario_2" / "1"
    write_run(run, model="gpt-oss-120b", pattern="empty_entities")
    (trace,) = load_traces(tmp_path)
    assert trace.metadata["diagnosis_status"] == "empty" and trace.metadata["diagnosis"]["entities"] == []
    (run / "agent_output.json").write_text(json.dumps("```json\n" + json.dumps({"entities": [{"name": ROOT}]}) + "\n```"))
    (trace,) = load_traces(tmp_path)
    assert trace.metadata["diagnosis_status"] == "present"
    (run / "agent_output.json").write_text("{broken")
    (trace,) = load_traces(tmp_path)
    assert trace.metadata["diagnosis_status"] == "missing" and "diagnosis_error" in trace.metadata


def test_cli_ingest_json(tmp_path):
    write_run(tmp_path / "runs" / "m" / "scenario_2" / "1", model="kimi-k2-thinking", pattern="loop")
    evaluation_results(tmp_path / "runs" / "evaluation_results.json",
                       [(tmp_path / "runs" / "m" / "scenario_2" / "1", "scenario_2", "scenario_2", "1")])
    from typer.testing import CliRunner

    from mastlens.cli.app import app

    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "runs"), "--json", "--db", str(tmp_path / "db.sqlite")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ingested"] == 1 and out["failed"] == []
    assert [s["path"].endswith("evaluation_results.json") for s in out["skipped"]] == [True]


def test_folders_that_are_not_runs(tmp_path):
    """A repository root with outputs/agent_output.json and a Codex home are walked, not claimed; the
    output without a rollout beside it is skipped, not a trace."""
    repo = tmp_path / "repo"
    (repo / "outputs").mkdir(parents=True)
    (repo / "outputs" / "agent_output.json").write_text(json.dumps({"entities": []}))
    run = repo / "agent_outputs" / "2" / "1"
    write_run(run, model="gpt-5.1-codex-max", pattern="clean")
    (run / "agent_output.json").rename(run / "outputs_agent_output.json")
    (run / "outputs").mkdir()
    (run / "outputs_agent_output.json").rename(run / "outputs" / "agent_output.json")
    read, skipped = results(repo)
    itbench = [t for r in read for t in r.traces if t.source.format == "itbench"]
    assert [t.id for t in itbench] == ["gpt-5.1-codex-max/2/1"]
    assert itbench[0].metadata["diagnosis_status"] == "present"
    assert [s.reason for s in skipped if s.path == str(repo / "outputs" / "agent_output.json")] == [
        "ITBench agent or judge output with no Codex rollout beside it (not a trace)"]

    home = tmp_path / "home" / ".codex"
    write_run(home, model="gpt-5.1-codex", pattern="clean", judge=False)
    (home / "agent_output.json").unlink()
    (home / "history.jsonl").write_text("")
    read, _ = results(home)
    assert {r.format for r in read if r.traces} == {"codex"}
