"""Faithful reproductions of real ITBench folders (written by the same generator as the bundled examples):

* the SRE agent's ``outputs/agent_outputs/<incident>/<trial>/`` with several rollouts under
  ``sessions/YYYY/MM/DD/`` (a retry, another model): one trace per rollout, each with its own model, the
  folder's diagnosis and judge scores on the rollout that produced them only;
* ITBench-Evaluations' ``evaluation_results.json`` beside ``data/<incident>/<trial>/outputs/agent_output.json``:
  outputs without a rollout are no traces, and an entry is joined only to the output it judged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from itbench_factory import ROOT, write_run
from itbench_runs import judge_output
from itbench_text import SCENARIOS

from mastlens.adapters.loader import FileResult, FileSkip, walk

CODEX_MAX, GEMINI = "gpt-5.1-codex-max", "gemini-3-flash-preview"


def add_rollout(trial: Path, scratch: Path, *, model: str, pattern: str, seed: int) -> tuple[str, str]:
    """Run the generator in ``scratch`` and move its rollout into ``trial`` (same sessions/Y/M/D path).
    Returns (session id, last timestamp in the file)."""
    facts = write_run(scratch, model=model, pattern=pattern, seed=seed)
    (rollout,) = scratch.rglob("rollout-*.jsonl")
    target = trial / rollout.relative_to(scratch)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(rollout, target)
    last = [json.loads(line)["timestamp"] for line in target.read_text(encoding="utf-8").splitlines()][-1]
    return facts.session_id, last


def read(path: Path):
    out = list(walk([path]))
    results = [r for r in out if isinstance(r, FileResult)]
    return results, [r for r in out if isinstance(r, FileSkip)]


def sre_trial(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    """outputs/agent_outputs/2/1 with a turn-limited first try, a run of another model without output, and
    the run that wrote agent_output.json (judged, with its judge_output.json)."""
    trial = tmp_path / "ITBench-SRE-Agent" / "outputs" / "agent_outputs" / "2" / "1"
    ids = {
        "first_try": add_rollout(trial, tmp_path / "s1", model=CODEX_MAX, pattern="turn_limit", seed=1),
        "other_model": add_rollout(trial, tmp_path / "s2", model=GEMINI, pattern="no_output", seed=2),
        "writer": add_rollout(trial, tmp_path / "s3", model=CODEX_MAX, pattern="clean", seed=3),
    }
    for name in ("agent_output.json", "judge_output.json"):
        shutil.move(tmp_path / "s3" / name, trial / name)
    (trial / "AGENTS.md").write_text("instructions\n", encoding="utf-8")
    (trial / "config.toml").write_text('profile = "sre"\n', encoding="utf-8")
    return trial, ids


def test_several_rollouts_are_several_traces_with_their_own_models(tmp_path):
    trial, ids = sre_trial(tmp_path)
    (result,), skipped = read(tmp_path / "ITBench-SRE-Agent")
    assert result.failures == [] and not [s for s in skipped if s.path.endswith(".json")]
    traces = {t.metadata["sessions"][0]["session_id"]: t for t in result.traces}
    assert set(traces) == {sid for sid, _ in ids.values()}
    for role, (sid, _) in ids.items():
        t = traces[sid]
        model = GEMINI if role == "other_model" else CODEX_MAX
        assert t.model == model and t.id == f"{model}/2/1/{sid}", role
        assert t.metadata["layout"] == "agent_outputs" and t.metadata["trial_rollouts"] == 3
        assert t.steps[0].kind.value == "system" and not any(s.metadata.get("event") == "session_start"
                                                             for s in t.steps)
    writer = traces[ids["writer"][0]]
    assert writer.metadata["diagnosis_status"] == "present" and writer.metadata["outputs_because"] == \
        "it wrote agent_output.json"
    assert writer.outcome.score == 1.0 and writer.outcome.success is True
    assert writer.metadata["judge"]["gt_entities"] == [ROOT]
    for role in ("first_try", "other_model"):
        t = traces[ids[role][0]]
        assert t.metadata["diagnosis"] is None and t.metadata["diagnosis_status"] == "other_rollout"
        assert t.outcome.score is None and t.outcome.success is None and "judge" not in t.metadata
        assert t.metadata["outputs_rollout"] == ids["writer"][0]
    assert any(f"go to {ids['writer'][0]} (it wrote agent_output.json)" in n for n in result.notes)


def test_without_a_writer_the_judged_model_or_the_latest_rollout_gets_the_output(tmp_path):
    trial, ids = sre_trial(tmp_path)
    writer = next(trial.rglob(f"*{ids['writer'][0]}.jsonl"))
    writer.unlink()  # the rollout that wrote the file is gone: two rollouts of two models are left
    (result,), _ = read(trial)
    owner = [t for t in result.traces if t.metadata["diagnosis_status"] == "present"]
    assert [t.model for t in owner] == [CODEX_MAX]  # the judge names gpt-5.1-codex-max: its latest rollout
    assert owner[0].outcome.score == 1.0 and "the model the judge names" in owner[0].metadata["outputs_because"]
    gemini = next(t for t in result.traces if t.model == GEMINI)
    assert gemini.outcome.score is None

    judge = json.loads((trial / "judge_output.json").read_text(encoding="utf-8"))
    judge["metadata"]["agent_model"] = "o3"  # the judge scored a model none of the rollouts ran
    (trial / "judge_output.json").write_text(json.dumps(judge), encoding="utf-8")
    (result,), _ = read(trial)
    latest = max(ids["first_try"], ids["other_model"], key=lambda item: item[1])[0]
    owner = [t for t in result.traces if t.metadata["diagnosis_status"] == "present"]
    assert [t.metadata["sessions"][0]["session_id"] for t in owner] == [latest]
    assert owner[0].metadata["outputs_because"].startswith("the latest by time")
    assert all(t.outcome.score is None and "judge" not in t.metadata for t in result.traces)
    assert any("judged o3" in n and "not attached" in n for n in result.notes)


def test_a_model_is_never_taken_from_a_path_component(tmp_path):
    trial, ids = sre_trial(tmp_path)
    for where in (tmp_path / "tmp" / "2" / "1", tmp_path / "data" / "scenario_2" / "1",
                  tmp_path / "copies" / "agent_outputs" / "1"):
        shutil.copytree(trial, where)
        (result,), _ = read(where)
        assert {t.model for t in result.traces} == {CODEX_MAX, GEMINI}, where
        assert all(t.id.startswith((CODEX_MAX + "/", GEMINI + "/")) for t in result.traces), where
    single = tmp_path / "one" / "incident_7" / "3"
    write_run(single, model=GEMINI, pattern="clean")
    (result,), _ = read(tmp_path / "one")
    (trace,) = result.traces
    assert trace.model == GEMINI and trace.id == f"{GEMINI}/incident_7/3" and trace.metadata["layout"] == \
        "incident/trial"


def _evaluations_checkout(tmp_path: Path) -> Path:
    """ITBench-Evaluations: data/<incident>/<trial>/outputs/agent_output.json, data/ground_truths.json and
    evaluation_results.json at the top; entry 2/2 judged an output of another run."""
    base = tmp_path / "ITBench-Evaluations"
    raw = []
    for incident, trial, root in (("2", "1", ROOT), ("2", "2", "otel-demo/Deployment/flagd"), ("3", "1", ROOT)):
        scratch = tmp_path / f"gen-{incident}-{trial}"
        write_run(scratch, model=CODEX_MAX, pattern="clean", seed=int(trial), judge=False)
        diag = json.loads((scratch / "agent_output.json").read_text(encoding="utf-8"))
        if root != ROOT:
            diag["entities"][0]["name"] = root
        out = base / "data" / incident / trial / "outputs" / "agent_output.json"
        out.parent.mkdir(parents=True)
        out.write_text(json.dumps(diag, indent=2), encoding="utf-8")
        judged = json.loads((tmp_path / f"gen-2-1" / "agent_output.json").read_text(encoding="utf-8"))
        scores = judge_output(SCENARIOS["scenario_2"], judged, "scenario_2", trial, "agent")["eval_result"]["scores"]
        raw.append({"scenario_index": len(raw), "incident_id": incident, "trial_id": trial, "scores": scores})
    (base / "data" / "ground_truths.json").write_text(json.dumps([{"id": "2", "groundtruth": {}}]), encoding="utf-8")
    (base / "evaluation_results.json").write_text(json.dumps({"raw_results": raw}, indent=2), encoding="utf-8")
    return base


def test_evaluations_folders_without_rollouts_are_not_traces(tmp_path):
    base = _evaluations_checkout(tmp_path)
    results, skipped = read(base)
    assert [t for r in results for t in r.traces] == [] and [f for r in results for f in r.failures] == []
    reasons = {Path(s.path).relative_to(base).as_posix(): s.reason for s in skipped}
    assert reasons["data/ground_truths.json"] == "no trace format recognised"
    assert "evaluation results" in reasons["evaluation_results.json"]
    assert all("no Codex rollout" in reasons[f"data/{i}/{t}/outputs/agent_output.json"]
               for i, t in (("2", "1"), ("2", "2"), ("3", "1")))


def test_an_evaluation_entry_joins_only_the_output_it_judged(tmp_path):
    base = _evaluations_checkout(tmp_path)
    for incident, trial in (("2", "1"), ("2", "2")):
        add_rollout(base / "data" / incident / trial, tmp_path / f"r-{incident}-{trial}", model=CODEX_MAX,
                    pattern="clean", seed=int(trial))
    results, _ = read(base)
    traces = {t.id: t for r in results for t in r.traces}
    assert set(traces) == {f"{CODEX_MAX}/2/1", f"{CODEX_MAX}/2/2"}  # the model from the rollout, never "data"
    assert traces[f"{CODEX_MAX}/2/1"].outcome.score == 1.0
    assert traces[f"{CODEX_MAX}/2/1"].metadata["judge"]["source"] == "evaluation_results"
    mismatched = traces[f"{CODEX_MAX}/2/2"]
    assert mismatched.outcome.score is None and "judge" not in mismatched.metadata
    notes = [n for r in results for n in r.notes]
    assert any("unmatched entry" in n and "(incident 2, trial 2)" in n and "flagd-config" in n and "not attached" in n for n in notes), notes
