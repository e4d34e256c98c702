"""ITBench SRE run folders: Codex rollouts + the agent's diagnosis + the ITBench judge's scores.

A run folder holds ``session.jsonl`` or ``sessions/**/rollout-*.jsonl`` (Codex rollouts, parsed by
:mod:`mastlens.adapters.codex`), ``agent_output.json`` (the diagnosis; also under ``outputs/``) and,
when judged, ``judge_output.json``; an ITBench-Evaluations ``evaluation_results.json`` may sit in a
folder above instead (its ``incident_id`` / ``trial_id`` name the scenario and run folders).

Layouts: ``<model>/<scenario>/<run>/`` (id ``<model>/<scenario>/<run>``, model = the model folder) and
the agent's own ``agent_outputs/<incident>/<trial>/`` (id ``<model>/<incident>/<trial>``, model taken
from the rollouts). Ids come from the path, whichever parent folder was given to ingest.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, load_json
from mastlens.adapters.codex.rollout import Rollout, parse_rollout, sniff_head, success_outcome
from mastlens.adapters.registry import read_head
from mastlens.trace import Source, Step, StepKind, Trace, renumber

DIAGNOSIS_FILES = ("agent_output.json", "outputs/agent_output.json", "agent_response.json",
                   "outputs/agent_response.json")
REMEDIATION_FILES = ("agent_remediation.json", "outputs/agent_remediation.json")
JUDGE_FILES = ("judge_output.json", "outputs/judge_output.json")
EVALUATION_FILE = "evaluation_results.json"
CODEX_HOME_FILES = ("history.jsonl", "auth.json", "version.json")
AGENT_OUTPUTS_DIRS = {"agent_outputs", "agent-outputs"}
_UPWARD_MIN = 3  # levels searched above a run for evaluation_results.json even past the walk root
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def find_rollouts(run: Path) -> list[Path]:
    """Rollout files of a run: ``session.jsonl`` and every ``sessions/**/*.jsonl``, in name order."""
    found = [run / "session.jsonl"] if (run / "session.jsonl").is_file() else []
    sessions = run / "sessions"
    if sessions.is_dir():
        found += sorted(p for p in sessions.rglob("*.jsonl") if p.is_file())
    return found


def _first_existing(run: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (run / name).is_file():
            return run / name
    return None


def canonical_id(name: str) -> str:
    """``Scenario-2``, ``scenario_2``, ``incident-2`` and ``2`` all name scenario ``2``."""
    m = re.match(r"^(?:scenario|incident|trial|run)?[-_ ]?(\d+)$", name.strip(), re.IGNORECASE)
    return str(int(m.group(1))) if m else name.strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def flatten_scores(scores: dict[str, Any]) -> dict[str, float]:
    """``{"root_cause_entity": {"calculation_recall": 1.0}}`` -> ``{"root_cause_entity_recall": 1.0}``."""
    flat: dict[str, float] = {}
    for criterion, value in scores.items():
        if isinstance(value, dict):
            for key, inner in value.items():
                if _number(inner) is not None:
                    flat[f"{criterion}_{key.removeprefix('calculation_')}"] = _number(inner)
        elif _number(value) is not None:
            flat[criterion] = _number(value)
    return flat


def _judgement(scores: dict[str, Any], flat_scores: dict[str, Any] | None, source: str, path: str) -> dict[str, Any]:
    metrics = flatten_scores(scores if isinstance(scores, dict) else {})
    metrics.update({k: float(v) for k, v in (flat_scores or {}).items() if _number(v) is not None})
    score = metrics.get("root_cause_entity_recall")
    rce = scores.get("root_cause_entity") if isinstance(scores, dict) else None
    detail: dict[str, Any] = {"source": source, "path": path}  # relative to the run: same content, same hash
    if isinstance(rce, dict):
        for key in ("gt_entities", "predicted_entities", "justification"):
            if key in rce:
                detail[key] = rce[key]
    return {"score": score, "metrics": metrics, "detail": detail}


class _EvaluationIndex:
    """Parsed ``evaluation_results.json`` files, read once per file version and shared by all runs."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], dict[tuple[str, str], dict[str, Any]] | str] = {}

    def lookup(self, path: Path, scenario: str, run: str) -> dict[str, Any] | str | None:
        index = self._load(path)
        if isinstance(index, str):
            return index
        return index.get((scenario, run)) or index.get((canonical_id(scenario), canonical_id(run)))

    def _load(self, path: Path) -> dict[tuple[str, str], dict[str, Any]] | str:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if key not in self._cache:
            try:
                data = load_json(path)
            except AdapterError as exc:
                self._cache[key] = f"{path}: {exc.reason}"
                return self._cache[key]
            index: dict[tuple[str, str], dict[str, Any]] = {}
            results = data.get("raw_results") if isinstance(data, dict) else None
            for entry in results if isinstance(results, list) else []:
                if not isinstance(entry, dict) or "incident_id" not in entry:
                    continue
                inc, trial = str(entry["incident_id"]), str(entry.get("trial_id", ""))
                index.setdefault((inc, trial), entry)
                index.setdefault((canonical_id(inc), canonical_id(trial)), entry)
            self._cache[key] = index
        return self._cache[key]


def _parse_diagnosis(path: Path | None) -> tuple[Any, str, str | None]:
    """(diagnosis, status, error): status is present, empty or missing."""
    if path is None:
        return None, "missing", None
    try:
        data = load_json(path)
    except AdapterError as exc:
        return None, "missing", f"{path.name}: {exc.reason}" + (f" (line {exc.line})" if exc.line else "")
    if isinstance(data, str):  # a diagnosis written as a (possibly fenced) JSON string
        fenced = _FENCE.search(data)
        try:
            data = json.loads(fenced.group(1) if fenced else data)
        except ValueError:
            return data, "empty", f"{path.name}: a string that is not a JSON diagnosis"
    if isinstance(data, list):
        data = {"entities": data}
    if not isinstance(data, dict):
        return data, "empty", None
    entities = data.get("entities")
    return data, ("present" if isinstance(entities, list) and entities else "empty"), None


class ITBenchAdapter(Adapter):
    name = "itbench"
    description = "ITBench SRE run folders: Codex rollouts, agent_output.json and judge scores"
    detects = ("a folder with session.jsonl or sessions/**/rollout-*.jsonl (Codex), agent_output.json or "
               "judge_output.json; scores from judge_output.json or an evaluation_results.json above")
    priority = 15
    reads_dirs = True

    def __init__(self) -> None:
        self._evaluations = _EvaluationIndex()

    # -- detection ---------------------------------------------------------------------------------
    def sniff_dir(self, path: Path) -> bool:
        if path.name == "sessions":
            return False
        if _first_existing(path, JUDGE_FILES) is not None:
            return True
        has_diagnosis = _first_existing(path, DIAGNOSIS_FILES) is not None
        if has_diagnosis and canonical_id(path.name).isdigit():
            return True  # a numbered trial folder, possibly holding only the diagnosis (ITBench-Evaluations)
        if not self._has_rollout(path):
            return False
        # ITBench runs use the run folder as CODEX_HOME; a bare Codex home (no diagnosis) is not a run
        return has_diagnosis or not (path.name == ".codex" or any((path / n).exists() for n in CODEX_HOME_FILES))

    @staticmethod
    def _has_rollout(path: Path) -> bool:
        for rollout in find_rollouts(path)[:3]:
            try:
                if sniff_head(read_head(rollout)):
                    return True
            except OSError:
                continue
        return False

    def side_file_reason(self, path: Path) -> str | None:
        """Files a folder walk should skip because run folders read them (not traces themselves)."""
        if path.name == EVALUATION_FILE:
            return "ITBench evaluation results (read with the run folders it scores)"
        return None

    # -- reading -----------------------------------------------------------------------------------
    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        run = path
        if not run.is_dir():
            raise AdapterError("an ITBench run is a folder (with session.jsonl or sessions/, agent_output.json)")
        rollouts = self._read_rollouts(run, ctx)
        diagnosis, status, diag_error = _parse_diagnosis(_first_existing(run, DIAGNOSIS_FILES))
        judged = self._judgement(run, ctx)
        if not rollouts and status == "missing" and judged is None:
            raise AdapterError("no readable rollout, agent_output.json or judge output in this run folder")

        models = Counter()
        for r in rollouts:
            models.update(r.models)
        rollout_model = _pick_model(rollouts)
        trace_id, model, layout = self._identity(run, rollout_model)
        metadata: dict[str, Any] = {
            "scenario": run.parent.name, "run": run.name, "layout": layout,
            "diagnosis": diagnosis, "diagnosis_status": status,
            "rollout_model": rollout_model, "sessions": [r.summary() for r in rollouts],
        }
        if len(models) > 1:
            metadata["models"] = dict(models)
        tokens: Counter = Counter()
        for r in rollouts:  # the last cumulative count of each session, summed over the run's sessions
            tokens.update({k: v for k, v in (r.tokens or {}).items() if isinstance(v, int)})
        if tokens:
            metadata["tokens"] = dict(tokens)
        remediation_file = _first_existing(run, REMEDIATION_FILES)
        if remediation_file is not None:  # the optional second task of ITBench runs: a remediation plan
            plan, plan_status, _ = _parse_diagnosis(remediation_file)
            metadata["remediation_plan"] = plan if plan_status != "missing" else None
        if diag_error:
            metadata["diagnosis_error"] = diag_error
            ctx.notes.append(f"diagnosis unreadable, kept as missing: {diag_error}")
        if not rollouts:
            ctx.notes.append(f"{trace_id}: no Codex rollout found; the trace has no steps")
        score, metrics = None, {}
        if judged is not None:
            score, metrics = judged["score"], judged["metrics"]
            metadata["judge"] = judged["detail"]
        yield Trace(
            id=trace_id, source=Source(format=self.name, path=str(run)), system="codex", model=model,
            task=run.parent.name, steps=_merge_steps(rollouts), outcome=success_outcome(ctx, score, metrics),
            metadata=metadata,
        )

    def _read_rollouts(self, run: Path, ctx: ReadContext) -> list[Rollout]:
        rollouts = []
        for file in find_rollouts(run):
            rel = file.relative_to(run)
            try:
                if not sniff_head(read_head(file)):
                    ctx.notes.append(f"{run.name}/{rel}: not a Codex rollout, ignored")
                    continue
                before = len(ctx.issues)
                rollout = parse_rollout(file, ctx)
                for issue in ctx.issues[before:]:
                    issue.reason = f"{rel}: {issue.reason}"
                rollouts.append(rollout)
            except AdapterError as exc:
                ctx.record_issue(f"{rel}: {exc.reason}", line=exc.line)
            except OSError as exc:
                ctx.record_issue(f"{rel}: cannot read: {exc.strerror}")
        rollouts.sort(key=lambda r: (r.first_ts or "", r.path.name))
        return rollouts

    def _judgement(self, run: Path, ctx: ReadContext) -> dict[str, Any] | None:
        judge_file = _first_existing(run, JUDGE_FILES)
        if judge_file is not None:
            try:
                data = load_json(judge_file)
            except AdapterError as exc:
                ctx.record_issue(f"{judge_file.name}: {exc.reason}", line=exc.line)
                data = None
            if isinstance(data, dict):
                scores = (data.get("eval_result") or {}).get("scores") or data.get("scores") or {}
                judged = _judgement(scores, data.get("flat_scores"), "judge_output",
                                    os.path.relpath(judge_file, run))
                if isinstance(data.get("metadata"), dict):
                    judged["detail"]["metadata"] = data["metadata"]
                return judged
        for folder in self._upward(run, ctx.root):
            candidate = folder / EVALUATION_FILE
            if not candidate.is_file():
                continue
            entry = self._evaluations.lookup(candidate, run.parent.name, run.name)
            if isinstance(entry, str):
                ctx.notes.append(f"evaluation results unreadable: {entry}")
            elif entry is not None:
                judged = _judgement(entry.get("scores") or {}, None, "evaluation_results",
                                    os.path.relpath(candidate, run.resolve()))
                if entry.get("error"):
                    judged["detail"]["error"] = entry["error"]
                return judged
        return None

    @staticmethod
    def _upward(run: Path, root: Path | None) -> Iterator[Path]:
        """The run folder and its parents up to the walk root (at least a few levels)."""
        root_resolved = root.resolve() if root is not None else None
        folder, level = run.resolve(), 0
        while True:
            yield folder
            past_root = root_resolved is None or folder == root_resolved or root_resolved not in folder.parents
            if (past_root and level >= _UPWARD_MIN) or folder.parent == folder:
                return
            folder, level = folder.parent, level + 1

    @staticmethod
    def _identity(run: Path, rollout_model: str | None) -> tuple[str, str | None, str]:
        """(trace id, model, layout name) from where the run sits: always ``<model>/<scenario>/<run>``,
        so the id does not depend on which parent folder was given to ingest."""
        model_dir = run.parent.parent
        if model_dir.name.lower() in AGENT_OUTPUTS_DIRS:
            model = rollout_model or "unknown-model"
            return f"{model}/{run.parent.name}/{run.name}", rollout_model, "agent_outputs"
        return "/".join(run.resolve().parts[-3:]), model_dir.name or rollout_model, "model/scenario/run"


def _pick_model(rollouts: list[Rollout]) -> str | None:
    counts = Counter()
    for r in rollouts:
        counts.update(r.models)
    if not counts:
        return None
    return counts.most_common(1)[0][0]


def _merge_steps(rollouts: list[Rollout]) -> list[Step]:
    """One timeline for the run; with several sessions, an event marks where each one starts."""
    if len(rollouts) == 1:
        return rollouts[0].steps
    steps: list[Step] = []
    for r in rollouts:
        steps.append(Step(index=0, kind=StepKind.EVENT, content=f"Codex session {r.session_id or r.path.stem}",
                          timestamp=r.first_ts,
                          metadata={"event": "session_start", "session_id": r.session_id, "file": r.path.name}))
        steps.extend(r.steps)
    return renumber(steps)


ADAPTER = ITBenchAdapter()
