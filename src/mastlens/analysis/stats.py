"""``compute_stats``: every statistic of an annotation set, grouped, as one typed ``StatsResult``.

The statistics are computed from the vectors reduced to distinct rows with counts
(:mod:`mastlens.analysis.patterns`), from the store's frame as from an exported Parquet dataset, so both give
the same figures and neither holds per-trace arrays beyond the reduction's batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mastlens.analysis.agreement import statuses as reference_statuses
from mastlens.analysis.cascades import cooccurrence, first_onsets_from_counts, precedence_from_counts
from mastlens.analysis.compare import compare_groups
from mastlens.analysis.fidelity import correct_prevalences, separation_by_group
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules, group_stats
from mastlens.analysis.outcome_call import outcome_calls
from mastlens.analysis.patterns import Patterns, Relation, reduce_vectors
from mastlens.analysis.playbook import load_playbook, recommend
from mastlens.analysis.regression import logistic_regression
from mastlens.analysis.results import Calibration, Excluded, StatsResult
from mastlens.analysis.unexplained import unexplained_failures
from mastlens.analysis.vectors import (
    AS_INGESTED, JUDGE_TASK_COMPLETED, ONSET_SUFFIX, failure_vectors, mode_matrices, onset_column,
)
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


def patterns_from_frame(df: pd.DataFrame, *, group_by: str = "model", model_aliases: dict[str, str] | None = None,
                        taxonomy: Taxonomy | None = None) -> Patterns:
    """The :class:`~mastlens.analysis.patterns.Patterns` of a frame of vectors (as :func:`failure_vectors`
    builds), counted by the same reduction as the Parquet path. Example trace ids follow the frame's row order."""
    import duckdb

    taxonomy = taxonomy or load_taxonomy()
    mode_ids = [m for m in taxonomy.ids if m in df.columns]
    groups = group_labels(df, group_by, model_aliases)
    sources = source_labels(df)
    if sources is not None and group_column(df, group_by) == "model":
        no_model = ~df["model"].map(lambda v: isinstance(v, str) and bool(v)).to_numpy(dtype=bool)
        grouped_by_source = sorted(set(sources[no_model].tolist()))
    else:
        grouped_by_source = []

    def column(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array(df[name] if len(df) else [], type=kind, from_pandas=True)

    data = {"_group": pa.array(groups.tolist(), pa.string()), "_row": pa.array(np.arange(len(df)), pa.int64()),
            "id": pa.array([str(v) for v in df["id"]] if len(df) else [], pa.string()),
            "success": column("success", pa.bool_()), "score": column("score", pa.float64())}
    if sources is not None:
        data["_source"] = pa.array(sources.tolist(), pa.string())
    if JUDGE_TASK_COMPLETED in df.columns:
        data[JUDGE_TASK_COMPLETED] = column(JUDGE_TASK_COMPLETED, pa.bool_())
    for m in mode_ids:
        data[m] = column(m, pa.bool_())
        if onset_column(m) in df.columns:
            data[onset_column(m)] = column(onset_column(m), pa.float64())
    table = pa.table(data)
    con = duckdb.connect()
    try:
        con.register("_mastlens_frame", table)
        keys = ["_group", "_source"] if sources is not None else ["_group"]
        rel = Relation(con, "_mastlens_frame", [], set(data), keys, order="_row")

        def labels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
            return (frame["_group"].to_numpy(dtype=object),
                    frame["_source"].to_numpy(dtype=object) if sources is not None else None, grouped_by_source)

        return reduce_vectors(rel, mode_ids, labels, JUDGE_TASK_COMPLETED, ONSET_SUFFIX, playbook_modes())
    finally:
        con.close()


def playbook_modes() -> list[tuple[str, list[str]]]:
    return [(item.id, list(item.modes)) for item in load_playbook()]


def stats_from_vectors(df: pd.DataFrame, *, set_name: str | None = None, group_by: str = "model",
                       compare: list[str] | tuple[str, str] | None = None, rules: VerdictRules = DEFAULT_RULES,
                       taxonomy: Taxonomy | None = None, reference: np.ndarray | None = None,
                       reference_set: str | None = None, model_aliases: dict[str, str] | None = None) -> StatsResult:
    """Statistics of failure vectors (as built by :func:`failure_vectors`, or generated): the frame is reduced
    to :class:`~mastlens.analysis.patterns.Patterns` and :func:`stats_from_patterns` computes from those.

    ``reference`` (traces x modes in the vectors' row and taxonomy order: -1 not labelled, 0 absent,
    1 present) turns on the corrected prevalences (Rogan-Gladen), whose bootstrap resamples the traces."""
    taxonomy = taxonomy or load_taxonomy()
    patterns = patterns_from_frame(df, group_by=group_by, model_aliases=model_aliases, taxonomy=taxonomy)
    result = stats_from_patterns(patterns, df.attrs, set_name=set_name, group_by=group_by, compare=compare,
                                 rules=rules, taxonomy=taxonomy, model_aliases=model_aliases)
    if reference is not None:
        mode_ids = patterns.mode_ids
        present, assessed, _ = mode_matrices(df, mode_ids)
        result.reference = reference_set
        correct_prevalences(result.groups, group_labels(df, group_by, model_aliases), present, assessed,
                            reference[:, :len(mode_ids)])
    return result


def stats_from_patterns(p: Patterns, attrs: dict, *, set_name: str | None = None, group_by: str = "model",
                        compare: list[str] | tuple[str, str] | None = None, rules: VerdictRules = DEFAULT_RULES,
                        taxonomy: Taxonomy | None = None,
                        model_aliases: dict[str, str] | None = None) -> StatsResult:
    """Every statistic of ``stats`` from reduced vectors; ``attrs``: the run facts (``df.attrs`` of
    :func:`failure_vectors`: set, success rule, exclusions, calibration)."""
    taxonomy = taxonomy or load_taxonomy()
    mode_ids = p.mode_ids
    categories = {m.id: m.category for m in taxonomy.modes}
    failed = p.success == 0
    result = StatsResult(set=set_name or attrs.get("set", ""), group_by=group_by,
                         success_rule=attrs.get("success_rule", AS_INGESTED),
                         success_decided=attrs.get("success_decided", ""), verdict_rules=rules.describe(),
                         model_aliases=dict(model_aliases or {}), groups_by_source=list(p.groups_by_source),
                         n_traces=p.n, excluded=Excluded(**attrs.get("excluded", {})),
                         calibration=attrs.get("calibration"))
    for name in sorted(set(p.group.tolist())):
        rows = p.group == name
        w, present, assessed = p.count[rows], p.present[rows], p.assessed[rows]
        g = group_stats(name, present, assessed, p.success[rows], p.mean_score(name), mode_ids, categories, rules,
                        sources=None if p.source is None else p.source[rows], weights=w)
        g.unexplained = unexplained_failures(present, assessed, failed[rows], p.unexplained_ids(name), mode_ids,
                                             weights=w)
        result.groups.append(g)
        result.cooccurrence += cooccurrence(name, present, assessed, mode_ids, weights=w)
        result.precedence += precedence_from_counts(name, p.before[name], p.after[name], p.both[name], mode_ids)
        result.first_onsets += first_onsets_from_counts(name, p.first[name], p.first_rows[name], mode_ids)
        result.recommendations += recommend(g, None, None, None, mode_ids, examples=p.intervention_ids(name))
    if compare:
        if len(compare) != 2:
            raise ValueError("--compare takes exactly two group names")
        result.comparison = compare_groups(str(compare[0]), str(compare[1]), p.present, p.assessed, p.group,
                                           mode_ids, weights=p.count)
    result.regression = logistic_regression(p.present, p.assessed, p.success, _fixed_effects(p.group, p.source),
                                            mode_ids, weights=p.count)
    result.separation = separation_by_group(p.present, p.success, p.group, sources=p.source, weights=p.count)
    if p.calls is not None:
        groups, success, called, count = p.calls
        result.outcome_calls = outcome_calls(called, success, groups, weights=count)
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
