"""What an ITBench trial folder says beside its rollouts, and which rollout it belongs to.

* the agent's diagnosis (``agent_output.json``) and remediation plan, parsed leniently;
* the ITBench judge's scores, from the folder's ``judge_output.json`` or an ITBench-Evaluations
  ``evaluation_results.json`` above it;
* the rollout that produced the diagnosis: the one whose tool calls wrote the file, else the latest
  rollout of the model the judge names, else the latest by time;
* whether an evaluation entry judged this very output: its incident and trial match and the entities it
  judged are the output's (otherwise it is reported as unmatched and not attached).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mastlens.adapters.base import AdapterError, load_json
from mastlens.adapters.codex.steps import Rollout
from mastlens.trace import StepKind
from mastlens.trace.model_names import same_model

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_WRITE_TOOLS = re.compile(r"write|create|edit|save", re.IGNORECASE)


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


def judgement(scores: Any, flat_scores: dict[str, Any] | None, source: str, path: str) -> dict[str, Any]:
    """``{score, metrics, detail}`` from an ITBench judge's scores (score: root-cause entity recall)."""
    metrics = flatten_scores(scores if isinstance(scores, dict) else {})
    metrics.update({k: float(v) for k, v in (flat_scores or {}).items() if _number(v) is not None})
    rce = scores.get("root_cause_entity") if isinstance(scores, dict) else None
    detail: dict[str, Any] = {"source": source, "path": path}  # relative to the run: same content, same hash
    if isinstance(rce, dict):
        for key in ("gt_entities", "predicted_entities", "justification"):
            if key in rce:
                detail[key] = rce[key]
    return {"score": metrics.get("root_cause_entity_recall"), "metrics": metrics, "detail": detail}


def parse_diagnosis(path: Path | None) -> tuple[Any, str, str | None]:
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


# -- which rollout produced the folder's output ------------------------------------------------------

def _writes(text: str, name: str) -> bool:
    n = re.escape(name)
    return bool(re.search(
        rf"(?:>>?|\btee\s+(?:-a\s+)?)\s*[\"']?[^\s\"'<>|;&]*{n}"  # shell redirect or tee
        rf"|\*\*\*\s*(?:Add|Update)\s+File:\s*\S*{n}"  # apply_patch
        rf"|open\(\s*[\"'][^\"']*{n}[\"']\s*,\s*[\"'][wax]"  # python open(..., "w")
        rf"|\b(?:cp|mv)\s+(?:-\S+\s+)*\S+\s+[\"']?[^\s\"']*{n}",  # copied into place
        text))


def wrote_file(rollout: Rollout, name: str) -> bool:
    """Whether one of the rollout's tool calls wrote ``name`` and did not fail."""
    failed = {s.call_id for s in rollout.steps if s.kind is StepKind.TOOL_RESULT and s.call_id
              and (s.metadata.get("is_error") or s.metadata.get("exit_code") not in (None, 0))}
    for step in rollout.steps:
        if step.kind is not StepKind.TOOL_CALL or (step.call_id and step.call_id in failed):
            continue
        args = step.arguments if isinstance(step.arguments, str) else json.dumps(step.arguments, ensure_ascii=False)
        if _writes(step.content, name) or _writes(args, name):
            return True
        if isinstance(step.arguments, dict) and _WRITE_TOOLS.search(step.tool or ""):
            target = step.arguments.get("path") or step.arguments.get("file_path") or step.arguments.get("filename")
            if isinstance(target, str) and target.endswith(name):
                return True
    return False


def latest(rollouts: list[Rollout]) -> Rollout:
    return max(rollouts, key=lambda r: (r.last_ts or r.first_ts or "", r.path.name))


def rollout_label(rollout: Rollout) -> str:
    return rollout.session_id or rollout.path.name


def producer(rollouts: list[Rollout], output_name: str | None, judged_model: str | None) -> tuple[Rollout, str]:
    """(the rollout the folder's output belongs to, why)."""
    if output_name:
        writers = [r for r in rollouts if wrote_file(r, output_name)]
        if writers:
            return latest(writers), f"it wrote {output_name}"
    if judged_model:
        same = [r for r in rollouts if same_model(r.model, judged_model)]
        if same:
            return latest(same), f"the latest rollout of {judged_model}, the model the judge names"
    return latest(rollouts), "the latest by time (no rollout shows writing the output)"


# -- did an evaluation entry judge this output? -------------------------------------------------------

def _entity_key(name: str) -> str:
    return name.strip().strip("\"'").rsplit("/", 1)[-1].strip().lower()


def judged_entities(scores: Any) -> set[str] | None:
    """The entities an ITBench judge says it read in the output (None when the entry does not list them)."""
    rce = scores.get("root_cause_entity") if isinstance(scores, dict) else None
    predicted = rce.get("predicted_entities") if isinstance(rce, dict) else None
    if not isinstance(predicted, list):
        return None
    names = set()
    for item in predicted:
        name = item.get("entity") or item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.add(_entity_key(name))
    return names


def output_entities(diagnosis: Any) -> tuple[set[str], set[str]]:
    """(every entity the output names, those it marks as contributing) as comparison keys."""
    entities = diagnosis.get("entities") if isinstance(diagnosis, dict) else None
    every: set[str] = set()
    contributing: set[str] = set()
    for item in entities if isinstance(entities, list) else []:
        name = item.get("name") or item.get("entity") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            continue
        every.add(_entity_key(name))
        if not isinstance(item, dict) or item.get("contributing_factor", True) is not False:
            contributing.add(_entity_key(name))
    return every, contributing


def entry_mismatch(entry: dict[str, Any], diagnosis: Any) -> str | None:
    """Why an evaluation entry (same incident and trial) did not judge this output, or None when it did."""
    judged = judged_entities(entry.get("scores"))
    if judged is None:
        return "the entry does not list the entities it judged"
    every, contributing = output_entities(diagnosis)
    if judged - every:
        return (f"it judged {', '.join(sorted(judged - every))}, which the output does not name"
                + (f" (the output names {', '.join(sorted(every))})" if every else " (the output names none)"))
    if not judged and contributing:
        return f"it judged no entity, the output names {', '.join(sorted(contributing))}"
    return None


@dataclass
class EvaluationIndex:
    """Parsed ``evaluation_results.json`` files, read once per file version and shared by all runs."""

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, int, int], dict[tuple[str, str], dict[str, Any]] | str] = {}

    def lookup(self, path: Path, scenario: str, run: str) -> dict[str, Any] | str | None:
        """The entry for (incident, trial), an error text for an unreadable file, or None."""
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
