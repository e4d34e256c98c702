"""The statistics computed from the reduced vectors (distinct rows with counts, analysis/patterns.py) are the
per-trace statistics: the same figures as the per-trace functions on every row, whatever the batch size, and
the same from an exported Parquet dataset as from the frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from vector_frames import MODE_IDS, vectors_frame

from mastlens.analysis import patterns as patterns_module
from mastlens.analysis.cascades import cooccurrence, first_onsets, precedence
from mastlens.analysis.export import write_vector_dataset
from mastlens.analysis.fidelity import separation_by_group
from mastlens.analysis.groups import group_stats
from mastlens.analysis.outcome_call import outcome_calls
from mastlens.analysis.parquet_source import stats_from_parquet
from mastlens.analysis.playbook import recommend
from mastlens.analysis.regression import logistic_regression
from mastlens.analysis.stats import group_labels, source_labels, stats_from_vectors
from mastlens.analysis.unexplained import unexplained_failures
from mastlens.analysis.vectors import JUDGE_TASK_COMPLETED, mode_matrices
from mastlens.taxonomy import load_taxonomy


def _frame(n: int = 2400, seed: int = 7) -> pd.DataFrame:
    """Three models over two sources, unknown outcomes, not-assessed cells, onsets with ties, judge calls."""
    rng = np.random.default_rng(seed)
    success = rng.choice([1, 0, -1], size=n, p=[0.45, 0.45, 0.1])
    rates = rng.uniform(0.05, 0.5, len(MODE_IDS))
    status = (rng.random((n, len(MODE_IDS))) < rates * np.where(success == 0, 1.6, 0.7)[:, None]).astype(int)
    status[rng.random(n) < 0.1] = 0  # failures no mode explains
    status[rng.random(status.shape) < 0.04] = -1
    onsets = np.where((status == 1) & (rng.random(status.shape) < 0.8), rng.integers(0, 6, status.shape), np.nan)
    df = vectors_frame(status, [None if s < 0 else bool(s) for s in success],
                       groups=list(rng.choice(["kimi-k2", "gpt-4.1", "openai:gpt-4.1", "qwen"], size=n)),
                       scores=[float(v) for v in rng.choice([0.0, 0.25, 1.0], size=n)], onsets=onsets,
                       sources=list(rng.choice(["tau/airline", "whowhen"], size=n)))
    df["id"] = [f"r{i:05d}" for i in range(n)]  # sorted: the frame's row order is the ids' order
    df[JUDGE_TASK_COMPLETED] = pd.array([None if c < 0 else bool(c) for c in rng.choice([1, 0, -1], size=n)],
                                        dtype="boolean")
    df.attrs.update(set="judge", excluded={"stale": 0, "errors": 0, "not_in_store": 0})
    return df


def _close(a, b, path: str = "") -> None:  # noqa: ANN001
    """Equal, floats within 1e-12 (the reduced path sums in another order: the last bits may differ)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_the_reduced_statistics_are_the_per_trace_ones():
    df = _frame()
    result = stats_from_vectors(df, compare=("kimi-k2", "qwen"))
    taxonomy = load_taxonomy()
    categories = {m.id: m.category for m in taxonomy.modes}
    present, assessed, onset = mode_matrices(df, MODE_IDS)
    success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
    score = df["score"].to_numpy(dtype=float, na_value=np.nan)
    groups, sources = group_labels(df, "model"), source_labels(df)
    ids, failed = df["id"].to_numpy(dtype=object), success == 0
    assert sorted(set(groups)) == [g.name for g in result.groups] and len(result.groups) >= 3
    assert result.n_traces == len(df)
    for got in result.groups:
        rows = groups == got.name
        expected = group_stats(got.name, present[rows], assessed[rows], success[rows], score[rows], MODE_IDS,
                               categories, sources=sources[rows])
        assert got.stratified and expected.stratified
        _close(got.model_dump(exclude={"unexplained"}), expected.model_dump(exclude={"unexplained"}))
        assert got.unexplained == unexplained_failures(present[rows], assessed[rows], failed[rows], ids[rows],
                                                       MODE_IDS)
        assert got.unexplained.trace_ids  # the bounded examples are there
        by_group = [r for r in result.recommendations if r.group == got.name]
        assert by_group == recommend(got, present[rows], failed[rows], ids[rows], MODE_IDS)
        assert [p for p in result.precedence if p.group == got.name] == precedence(got.name, onset[rows], MODE_IDS)
        assert [f for f in result.first_onsets if f.group == got.name] == \
            first_onsets(got.name, onset[rows], failed[rows], MODE_IDS)
        assert [c for c in result.cooccurrence if c.group == got.name] == \
            cooccurrence(got.name, present[rows], assessed[rows], MODE_IDS)
    assert any(p.share_first + p.share_second < 1 for p in result.precedence)  # ties were counted for neither
    assert result.separation == separation_by_group(present, success, groups, sources=sources)
    assert result.outcome_calls == outcome_calls(
        df[JUDGE_TASK_COMPLETED].astype("Int8").fillna(-1).to_numpy(dtype=np.int8), success, groups)
    assert result.outcome_calls and result.outcome_calls[0].n_called > 0
    regression = logistic_regression(present, assessed, success, np.array(
        [f"{g} · {s}" for g, s in zip(groups, sources)], dtype=object), MODE_IDS)
    _close(result.regression.model_dump(), regression.model_dump())
    assert result.regression.terms


def test_the_reduction_does_not_depend_on_the_batch_size(monkeypatch):
    df = _frame(900, seed=3)
    whole = stats_from_vectors(df).model_dump(mode="json")
    monkeypatch.setattr(patterns_module, "BATCH_ROWS", 37)  # DuckDB's small batches joined into 37 rows or more
    assert stats_from_vectors(df).model_dump(mode="json") == whole


@pytest.mark.parametrize("group_by", ["model", "team"])
def test_the_same_figures_from_the_exported_dataset(tmp_path, group_by):
    df = _frame(1500, seed=11)
    df["meta.team"] = np.where(np.arange(len(df)) % 3 == 0, "red", "blue")
    write_vector_dataset(df, tmp_path / "vectors", ["2026-12-07"] * len(df))
    from_frame = stats_from_vectors(df, group_by=group_by).model_dump(mode="json")
    assert stats_from_parquet(tmp_path / "vectors", group_by=group_by).model_dump(mode="json") == from_frame
    assert from_frame["outcome_calls"] and from_frame["precedence"] and from_frame["recommendations"]
