"""``compute_stats``: every statistic of an annotation set, grouped, as one typed ``StatsResult``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mastlens.analysis.agreement import statuses as reference_statuses
from mastlens.analysis.cascades import cooccurrence, first_onsets, precedence
from mastlens.analysis.compare import compare_groups
from mastlens.analysis.fidelity import correct_prevalences, separation_by_group
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules, group_stats
from mastlens.analysis.outcome_call import outcome_calls
from mastlens.analysis.playbook import recommend
from mastlens.analysis.regression import logistic_regression
from mastlens.analysis.results import Calibration, Excluded, StatsResult
from mastlens.analysis.unexplained import unexplained_failures
from mastlens.analysis.vectors import AS_INGESTED, JUDGE_TASK_COMPLETED, failure_vectors, mode_matrices
from mastlens.store import Store
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace.model_names import group_model

UNKNOWN_GROUP = "unknown"


def group_column(df: pd.DataFrame, group_by: str) -> str:
    """The vectors' column for ``group_by``: model, system, task, a run tag or a metadata key."""
    for name in (group_by, f"tag.{group_by}", f"meta.{group_by}"):
        if name in df.columns and name not in df.attrs.get("modes", ()):
            return name
    if len(df) == 0:
        return group_by
    keys = sorted({c.split(".", 1)[1] for c in df.columns if c.startswith(("meta.", "tag."))})
    raise ValueError(f"cannot group by {group_by!r}: use model, system, task, a tag or a metadata key "
                     f"({', '.join(keys) or 'the traces have none'})")


def source_labels(df: pd.DataFrame) -> np.ndarray | None:
    """Each row's source (:mod:`mastlens.analysis.strata`), or None for vectors without one."""
    if len(df) == 0 or "source" not in df.columns:
        return None
    return np.array([str(v) if isinstance(v, str) and v else UNKNOWN_GROUP for v in df["source"]], dtype=object)


def group_labels(df: pd.DataFrame, group_by: str, model_aliases: dict[str, str] | None = None) -> np.ndarray:
    """The group of each row; models by their normalised name (:mod:`mastlens.trace.model_names`), aliased;
    a run that records no model goes in the group of its source, so that benchmarks are not pooled as
    ``unknown``."""
    if len(df) == 0:
        return np.array([], dtype=object)
    column = group_column(df, group_by)
    if column == "model":
        sources = source_labels(df)
        return np.array([group_model(v, model_aliases) if isinstance(v, str) and v else
                         (UNKNOWN_GROUP if sources is None else sources[i])
                         for i, v in enumerate(df[column])], dtype=object)
    values = df[column]
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")  # whole numbers read back with gaps: group "3", not "3.0"
    missing = (values.isna() | (values.astype(str) == "")).to_numpy(dtype=bool)
    return np.where(missing, UNKNOWN_GROUP, values.astype(str).to_numpy(dtype=object)).astype(object)


def _fixed_effects(groups: np.ndarray, sources: np.ndarray | None) -> np.ndarray:
    """The regression's fixed-effect levels: the group, and its source where a group mixes sources (so
    that a mode is not credited with a source's outcome rate)."""
    if sources is None or len(set(zip(groups.tolist(), sources.tolist()))) == len(set(groups.tolist())):
        return groups
    return np.array([f"{g} · {s}" if g != s else str(g) for g, s in zip(groups, sources)], dtype=object)


def stats_from_vectors(df: pd.DataFrame, *, set_name: str | None = None, group_by: str = "model",
                       compare: list[str] | tuple[str, str] | None = None, rules: VerdictRules = DEFAULT_RULES,
                       taxonomy: Taxonomy | None = None, reference: np.ndarray | None = None,
                       reference_set: str | None = None, model_aliases: dict[str, str] | None = None) -> StatsResult:
    """Statistics of failure vectors (as built by :func:`failure_vectors`, or generated).

    ``reference`` (traces x modes in the vectors' row and taxonomy order: -1 not labelled, 0 absent,
    1 present) turns on the corrected prevalences (Rogan-Gladen)."""
    taxonomy = taxonomy or load_taxonomy()
    mode_ids = [m for m in taxonomy.ids if m in df.columns]
    categories = {m.id: m.category for m in taxonomy.modes}
    present, assessed, onset = mode_matrices(df, mode_ids)
    success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8) if len(df) else np.zeros(0, np.int8)
    score = df["score"].astype("Float64").to_numpy(dtype=float, na_value=np.nan) if len(df) else np.zeros(0)
    groups = group_labels(df, group_by, model_aliases)
    sources = source_labels(df)
    if sources is not None and group_column(df, group_by) == "model":
        no_model = ~df["model"].map(lambda v: isinstance(v, str) and bool(v)).to_numpy(dtype=bool)
        grouped_by_source = sorted(set(sources[no_model].tolist()))
    else:
        grouped_by_source = []
    ids = df["id"].to_numpy(dtype=object) if len(df) else np.array([], dtype=object)
    failed = success == 0

    result = StatsResult(set=set_name or df.attrs.get("set", ""), group_by=group_by,
                         success_rule=df.attrs.get("success_rule", AS_INGESTED),
                         success_decided=df.attrs.get("success_decided", ""), verdict_rules=rules.describe(),
                         model_aliases=dict(model_aliases or {}), groups_by_source=grouped_by_source,
                         n_traces=len(df),
                         excluded=Excluded(**df.attrs.get("excluded", {})),
                         calibration=df.attrs.get("calibration"))
    for name in sorted(set(groups.tolist())):
        rows = groups == name
        g = group_stats(name, present[rows], assessed[rows], success[rows], score[rows], mode_ids, categories, rules,
                        sources=None if sources is None else sources[rows])
        g.unexplained = unexplained_failures(present[rows], assessed[rows], failed[rows], ids[rows], mode_ids)
        result.groups.append(g)
        result.cooccurrence += cooccurrence(name, present[rows], assessed[rows], mode_ids)
        result.precedence += precedence(name, onset[rows], mode_ids)
        result.first_onsets += first_onsets(name, onset[rows], failed[rows], mode_ids)
        result.recommendations += recommend(g, present[rows], failed[rows], ids[rows], mode_ids)
    if compare:
        if len(compare) != 2:
            raise ValueError("--compare takes exactly two group names")
        result.comparison = compare_groups(str(compare[0]), str(compare[1]), present, assessed, groups, mode_ids)
    result.regression = logistic_regression(present, assessed, success, _fixed_effects(groups, sources), mode_ids)
    result.separation = separation_by_group(present, success, groups, sources=sources)
    result.outcome_calls = outcome_calls(
        df[JUDGE_TASK_COMPLETED].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
        if len(df) and JUDGE_TASK_COMPLETED in df.columns else None, success, groups)
    if reference is not None:
        result.reference = reference_set
        correct_prevalences(result.groups, groups, present, assessed, reference[:, :len(mode_ids)])
    return result


def compute_stats(store: Store, set_name: str | None = None, *, group_by: str = "model",
                  success_rule: str | None = None, compare: list[str] | tuple[str, str] | None = None,
                  rules: VerdictRules = DEFAULT_RULES, reference: str | None = None,
                  model_aliases: dict[str, str] | None = None, calibration: Calibration | None = None) -> StatsResult:
    """Statistics of an annotation set (default: the most recently written one); with ``reference`` (a set
    of human labels) also the judge's per-mode sensitivity, specificity and corrected prevalence. Models are
    grouped by their normalised name, mapped by ``model_aliases`` (see :mod:`mastlens.trace.model_names`).
    ``calibration`` (:func:`~mastlens.analysis.calibration.load_calibration`) applies per-mode thresholds.

    Raises ``ValueError`` for an unknown set, group key, comparison group, success rule or reference set.
    """
    name = set_name or store.latest_set()
    if name is None or store.get_set(name) is None:
        raise ValueError(f"no annotation set {set_name!r}" if set_name else "no annotation sets yet")
    taxonomy = load_taxonomy()
    df = failure_vectors(store, name, success_rule=success_rule, taxonomy=taxonomy, calibration=calibration)
    matrix = None
    if reference is not None:
        if store.get_set(reference) is None:
            raise ValueError(f"no annotation set {reference!r} to use as the reference")
        mode_ids = [m for m in taxonomy.ids if m in df.columns]
        labelled = reference_statuses(store, reference, mode_ids)
        missing = np.full(len(mode_ids), -1, dtype=np.int8)
        matrix = np.array([labelled.get(t, missing) for t in df["id"]], dtype=np.int8).reshape(len(df), len(mode_ids))
    return stats_from_vectors(df, set_name=name, group_by=group_by, compare=compare, rules=rules, taxonomy=taxonomy,
                              reference=matrix, reference_set=reference, model_aliases=model_aliases)
