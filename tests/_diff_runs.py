"""Generated pairs of agent runs on the same tasks, as failure vectors (the shape ``failure_vectors`` returns),
and the same runs written to a real store, for the diff and gate tests. Deterministic per seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import (
    Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Outcome, Source, Step, StepKind, Trace, Verdict,
)

MODE_IDS = load_taxonomy().ids
# Prevalence of each mode in a run of the base agent (FM-3.3 is the one the fix targets).
PROFILE = {m: 0.06 for m in MODE_IDS} | {"FM-1.3": 0.3, "FM-3.2": 0.25, "FM-1.5": 0.15, "FM-3.3": 0.4, "FM-2.4": 0.0}
FATAL = ("FM-3.3", "FM-2.4", "FM-1.5")  # a trace with one of these fails


def _run(rng: np.random.Generator, name: str, n_tasks: int, prevalence: dict[str, float],
         exact: dict[str, int], tasks: list[str]) -> pd.DataFrame:
    present = rng.random((n_tasks, len(MODE_IDS))) < np.array([prevalence[m] for m in MODE_IDS])
    for mode_id, count in exact.items():  # exactly ``count`` tasks have the mode
        column = np.zeros(n_tasks, dtype=bool)
        column[rng.permutation(n_tasks)[:count]] = True
        present[:, MODE_IDS.index(mode_id)] = column
    fatal = present[:, [MODE_IDS.index(m) for m in FATAL]].any(axis=1)
    success = ~fatal & (rng.random(n_tasks) < 0.9)
    data = {"id": [f"{name}-{t}" for t in tasks], "model": "agent", "system": None, "task": tasks,
            "success": pd.array(success, dtype="boolean"),
            "score": pd.array(success.astype(float), dtype="Float64"), "tag.run": name}
    for j, mode_id in enumerate(MODE_IDS):
        data[mode_id] = pd.array(present[:, j], dtype="boolean")
    df = pd.DataFrame(data)
    df.attrs["modes"] = list(MODE_IDS)
    return df


def run_pair(seed: int, *, n_tasks: int = 60, change: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(BASE, NEW) on the same ``n_tasks`` tasks. ``change``: FM-3.3 goes from 40% to 10% of the tasks and
    FM-2.4 (absent in BASE) appears in 30% of NEW; without it both runs come from the base profile."""
    rng = np.random.default_rng(seed)
    tasks = [f"task-{i:03d}" for i in range(n_tasks)]
    if not change:
        return (_run(rng, "base", n_tasks, PROFILE, {}, tasks), _run(rng, "new", n_tasks, PROFILE, {}, tasks))
    base = _run(rng, "base", n_tasks, PROFILE, {"FM-3.3": round(0.4 * n_tasks), "FM-2.4": 0}, tasks)
    new = _run(rng, "new", n_tasks, PROFILE, {"FM-3.3": round(0.1 * n_tasks), "FM-2.4": round(0.3 * n_tasks)}, tasks)
    return base, new


def store_pair(store: Store, base: pd.DataFrame, new: pd.DataFrame, *, set_base: str = "judge",
               set_new: str | None = None, quote: str = "the tests passed, so it is verified") -> None:
    """Write both runs to ``store``: a trace per row (tagged ``run``) and its annotation, each present mode
    with evidence on step 1."""
    taxonomy = load_taxonomy()
    for df, set_name in ((base, set_base), (new, set_new or set_base)):
        if store.get_set(set_name) is None:
            store.ensure_set(set_name, judge="openai:test-model", model="test-model", prompt_hash="p1",
                             taxonomy_version=taxonomy.version)
        annotations = []
        for row in df.to_dict("records"):
            trace = Trace(id=row["id"], source=Source(format="native", path=f"/runs/{row['tag.run']}.jsonl"),
                          model="agent", task=row["task"],
                          steps=[Step(index=0, kind=StepKind.USER, content=f"solve {row['task']}"),
                                 Step(index=1, kind=StepKind.ASSISTANT, content=quote)],
                          outcome=Outcome(success=bool(row["success"]), score=float(row["score"]),
                                          success_from="source"))
            stored = store.add_trace(trace)
            store.set_tags(stored.trace_id, {"run": row["tag.run"]})
            modes = {}
            for mode_id in taxonomy.ids:
                value = row[mode_id]
                if value is pd.NA:
                    modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.NOT_ASSESSED)
                elif value:
                    modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.PRESENT, confidence=0.9,
                                                 reason=f"{mode_id} seen", evidence=[Evidence(step=1, quote=quote[:30])])
                else:
                    modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.ABSENT)
            annotations.append(Annotation(trace_id=stored.trace_id, set=set_name, status=AnnotationStatus.OK,
                                          verdict=Verdict(modes=modes, task_completed=bool(row["success"]))))
        store.save_annotations(annotations)
