"""ITBench SRE trial folders: Codex rollouts + the agent's diagnosis + the ITBench judge's scores.

A trial folder holds ``session.jsonl`` or ``sessions/YYYY/MM/DD/rollout-*.jsonl`` (Codex rollouts, parsed
by :mod:`mastlens.adapters.codex`; a retry or another model adds one), ``agent_output.json`` (the
diagnosis; also under ``outputs/``) and, when judged, ``judge_output.json``; an ITBench-Evaluations
``evaluation_results.json`` may sit in a folder above instead (its ``incident_id`` / ``trial_id`` name
the incident and trial folders). A folder with outputs but no rollout is not a trace.

Each rollout is one trace, with the model of its own ``turn_context``. The folder's diagnosis and scores
go to the one rollout that produced them (:func:`~mastlens.adapters.itbench_outputs.producer`; a note
says which and why when there are several), never to a rollout of another model than the judge names.

Layouts and ids (the same whichever parent folder is given to ingest):

* ``<model>/scenario_<N>/<run>/``: the model is the model folder (the one layout that names it);
  id ``<model>/scenario_<N>/<run>``;
* ``agent_outputs/<incident>/<trial>/`` (the SRE agent's own) and any other ``<incident>/<trial>/``:
  the model comes from the rollout (``unknown`` without one); id ``<model>/<incident>/<trial>``.

With several rollouts in a trial, ``/<session id>`` is added to each id.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, load_json, read_head, trace_suffix
from mastlens.adapters.codex.rollout import Rollout, parse_rollout, sniff_head, success_outcome
from mastlens.adapters.itbench_outputs import (
    EvaluationIndex, entry_mismatch, judgement, parse_diagnosis, producer, rollout_label,
)
from mastlens.trace import Source, Trace
from mastlens.trace.model_names import UNKNOWN_MODEL, same_model

DIAGNOSIS_FILES = ("agent_output.json", "outputs/agent_output.json", "agent_response.json",
                   "outputs/agent_response.json")
REMEDIATION_FILES = ("agent_remediation.json", "outputs/agent_remediation.json")
JUDGE_FILES = ("judge_output.json", "outputs/judge_output.json")
OUTPUT_FILES = {Path(n).name for n in DIAGNOSIS_FILES + REMEDIATION_FILES + JUDGE_FILES}
EVALUATION_FILE = "evaluation_results.json"
CODEX_HOME_FILES = ("history.jsonl", "auth.json", "version.json")
AGENT_OUTPUTS_DIRS = {"agent_outputs", "agent-outputs"}
_SCENARIO_DIR = re.compile(r"^scenario[-_ ]?\d+$", re.IGNORECASE)
#: folders that hold runs without naming a model (never taken as one)
_NOT_A_MODEL = AGENT_OUTPUTS_DIRS | {"outputs", "output", "data", "runs", "results", "tmp", "temp", ""}
_UPWARD_MIN = 3  # levels searched above a run for evaluation_results.json even past the walk root


def find_rollouts(run: Path) -> list[Path]:
    """Rollout files of a run: ``session.jsonl`` and every ``sessions/**/*.jsonl`` (or ``.jsonl.gz``)."""
    found = [run / "session.jsonl"] if (run / "session.jsonl").is_file() else []
    sessions = run / "sessions"
    if sessions.is_dir():
        found += sorted(p for p in sessions.rglob("*") if p.is_file() and trace_suffix(p) == ".jsonl")
    return found


def _first_existing(run: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (run / name).is_file():
            return run / name
    return None


def layout(run: Path) -> tuple[str, str | None]:
    """(layout name, the model the folders name or None)."""
    model_dir = run.resolve().parent.parent
    if model_dir.name.lower() in AGENT_OUTPUTS_DIRS:
        return "agent_outputs", None
    if _SCENARIO_DIR.match(run.resolve().parent.name) and model_dir.name.lower() not in _NOT_A_MODEL:
        return "model/scenario/run", model_dir.name
    return "incident/trial", None


class ITBenchAdapter(Adapter):
    name = "itbench"
    description = ("ITBench SRE trial folders: one trace per Codex rollout; the folder's agent_output.json and "
                   "judge scores go to the rollout that produced them")
    detects = ("a folder with session.jsonl or sessions/**/rollout-*.jsonl (Codex) and agent_output.json or "
               "judge_output.json; scores from judge_output.json or an evaluation_results.json above")
    outcome = ("score = the ITBench judge's root-cause entity recall (judge_output.json eval_result.scores, or the "
               "matching evaluation_results.json raw_results entry); the other scores are metrics "
               "(e.g. root_cause_entity_f1); success by the rule (default score>=1)")
    priority = 15
    reads_dirs = True

    def __init__(self) -> None:
        self._evaluations = EvaluationIndex()

    # -- detection ---------------------------------------------------------------------------------
    def sniff_dir(self, path: Path) -> bool:
        if path.name == "sessions" or not self._has_rollout(path):
            return False
        has_output = _first_existing(path, DIAGNOSIS_FILES + JUDGE_FILES) is not None
        # ITBench runs use the run folder as CODEX_HOME; a bare Codex home (no diagnosis) is not a run
        return has_output or not (path.name == ".codex" or any((path / n).exists() for n in CODEX_HOME_FILES))

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
        if path.name in OUTPUT_FILES:
            return "ITBench agent or judge output with no Codex rollout beside it (not a trace)"
        return None

    # -- reading -----------------------------------------------------------------------------------
    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        run = path
        if not run.is_dir():
            raise AdapterError("an ITBench run is a folder (with session.jsonl or sessions/, agent_output.json)")
        rollouts = self._read_rollouts(run, ctx)
        if not rollouts:
            raise AdapterError("no readable Codex rollout in this run folder (its outputs alone are not a trace)")
        diag_file = _first_existing(run, DIAGNOSIS_FILES)
        diagnosis, status, diag_error = parse_diagnosis(diag_file)
        judge = self._judge_file(run, ctx)
        judged_model = judge.pop("agent_model", None) if judge else None
        owner, why = producer(rollouts, diag_file.name if diag_file else None, judged_model)
        kind, folder_model = layout(run)
        if judge is not None and judged_model and not (same_model(judged_model, owner.model)
                                                        or same_model(judged_model, folder_model)):
            ctx.notes.append(f"{judge['detail']['path']} judged {judged_model}, but the output belongs to "
                             f"rollout {rollout_label(owner)} of {owner.model or 'an unknown model'}: not attached")
            judge = None
        if judge is None:
            judge = self._evaluation(run, ctx, diagnosis)
        if len(rollouts) > 1 and (diag_file is not None or judge is not None):
            ctx.notes.append(f"{len(rollouts)} rollouts; the folder's output and scores go to "
                             f"{rollout_label(owner)} ({why})")
        if diag_error:
            ctx.notes.append(f"diagnosis unreadable, kept as missing: {diag_error}")
        remediation_file = _first_existing(run, REMEDIATION_FILES)
        for rollout in rollouts:
            own = rollout is owner
            model = folder_model or rollout.model
            base = (f"{folder_model}/{run.resolve().parent.name}/{run.name}" if folder_model
                    else f"{rollout.model or UNKNOWN_MODEL}/{run.parent.name}/{run.name}")
            metadata: dict[str, Any] = {
                "scenario": run.parent.name, "run": run.name, "layout": kind,
                "diagnosis": diagnosis if own else None,
                "diagnosis_status": status if own else "other_rollout",
                "rollout_model": rollout.model, "sessions": [rollout.summary()],
            }
            if len(rollout.models) > 1:
                metadata["models"] = dict(rollout.models)
            tokens = {k: v for k, v in (rollout.tokens or {}).items() if isinstance(v, int)}
            if tokens:
                metadata["tokens"] = tokens
            if own and remediation_file is not None:  # the optional second task of ITBench runs
                plan, plan_status, _ = parse_diagnosis(remediation_file)
                metadata["remediation_plan"] = plan if plan_status != "missing" else None
            if own and diag_error:
                metadata["diagnosis_error"] = diag_error
            if len(rollouts) > 1:
                metadata["trial_rollouts"] = len(rollouts)
                metadata["outputs_rollout"] = rollout_label(owner)
                if own:
                    metadata["outputs_because"] = why
            score, metrics = None, {}
            if own and judge is not None:
                score, metrics = judge["score"], judge["metrics"]
                metadata["judge"] = judge["detail"]
            yield Trace(
                id=base if len(rollouts) == 1 else f"{base}/{rollout_label(rollout)}",
                source=Source(format=self.name, path=str(run)), system="codex", model=model,
                task=run.parent.name, steps=rollout.steps, outcome=success_outcome(ctx, score, metrics),
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
                ctx.record_issue(f"{rel}: cannot read: {exc.strerror or exc}")
        rollouts.sort(key=lambda r: (r.first_ts or "", r.path.name))
        return rollouts

    def _judge_file(self, run: Path, ctx: ReadContext) -> dict[str, Any] | None:
        """The folder's own judge output (with ``agent_model``, the model it judged, when it says)."""
        judge_file = _first_existing(run, JUDGE_FILES)
        if judge_file is None:
            return None
        try:
            data = load_json(judge_file)
        except AdapterError as exc:
            ctx.record_issue(f"{judge_file.name}: {exc.reason}", line=exc.line)
            return None
        if not isinstance(data, dict):
            return None
        scores = (data.get("eval_result") or {}).get("scores") or data.get("scores") or {}
        judged = judgement(scores, data.get("flat_scores"), "judge_output", os.path.relpath(judge_file, run))
        meta = data.get("metadata")
        if isinstance(meta, dict):
            judged["detail"]["metadata"] = meta
            if isinstance(meta.get("agent_model"), str) and meta["agent_model"].strip():
                judged["agent_model"] = meta["agent_model"]
        return judged

    def _evaluation(self, run: Path, ctx: ReadContext, diagnosis: Any) -> dict[str, Any] | None:
        """The evaluation_results.json entry (in a folder above) that judged this very output."""
        for folder in self._upward(run, ctx.root):
            candidate = folder / EVALUATION_FILE
            if not candidate.is_file():
                continue
            entry = self._evaluations.lookup(candidate, run.parent.name, run.name)
            if isinstance(entry, str):
                ctx.notes.append(f"evaluation results unreadable: {entry}")
                continue
            if entry is None:
                continue
            where = os.path.relpath(candidate, run.resolve())
            mismatch = entry_mismatch(entry, diagnosis)
            if mismatch:
                ctx.notes.append(f"unmatched entry of {where} (incident "
                                 f"{entry.get('incident_id')}, trial {entry.get('trial_id')}): {mismatch}; not attached")
                continue
            judged = judgement(entry.get("scores") or {}, None, "evaluation_results", where)
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


ADAPTER = ITBenchAdapter()
