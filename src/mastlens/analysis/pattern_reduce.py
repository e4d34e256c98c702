"""One pass over vector rows in Arrow batches, reduced to the counts :class:`~mastlens.analysis.patterns.Patterns`
holds. Every table is a sum of integer counts (or the first few trace ids by a total order), so neither the
batch size nor the order DuckDB hands the rows over in changes a figure.

A batch carries ``_li`` (group index), ``_si`` (source index), ``_s`` (success 1 / 0 / -1), ``_c`` (the judge's
own outcome call, 1 / 0 / -1), ``_score``, ``_ord`` (the order of example ids), ``id``, and per mode ``_m{j}``
(tri-state bool) and ``_o{j}`` (onset, a double or null).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def mask_bits(matrix: np.ndarray) -> np.ndarray:
    """Each row of a (rows x modes) bool matrix as an int64 bit mask (mode j is bit j)."""
    packed = np.packbits(matrix, axis=1, bitorder="little")
    out = np.zeros(len(matrix), dtype=np.int64)
    for b in range(packed.shape[1]):
        out |= packed[:, b].astype(np.int64) << (8 * b)
    return out


def merge_counts(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Partial count tables summed over their key columns, sorted by them."""
    if not parts:
        return pd.DataFrame({**{k: [] for k in keys}, "n": []})
    return pd.concat(parts, ignore_index=True).groupby(keys, sort=True, as_index=False)["n"].sum()


class TopN:
    """Per (group, kind) the ``n`` best rows by (hits descending, order ascending) among rows with hits > 0;
    rows that cannot beat the current n-th are dropped with vectorised tests, so after the first batches
    almost no row reaches Python."""

    def __init__(self, n: int, kinds: int) -> None:
        self.n, self.kinds = n, kinds
        self.best: dict[tuple[int, int], list[tuple[int, Any, str]]] = {}

    def _threshold(self, groups: int, kind: int) -> tuple[np.ndarray, dict[int, Any]]:
        """Per group the hits of its n-th best row (0 while it has fewer), and that row's order."""
        hits, order = np.zeros(groups, dtype=np.int64), {}
        for (g, k), rows in self.best.items():
            if k == kind and len(rows) >= self.n:
                hits[g], order[g] = rows[-1][0], rows[-1][1]
        return hits, order

    def add(self, kind: int, li: np.ndarray, hits: np.ndarray, ords: pa.Array, ids: pa.Array, groups: int) -> None:
        thr_hits, thr_order = self._threshold(groups, kind)
        row_thr = thr_hits[li]
        keep = (hits > 0) & (hits > row_thr)
        tie = np.flatnonzero((hits > 0) & (hits == row_thr))  # only rows of full groups: row_thr > 0 there
        if len(tie):
            tie = tie[np.argsort(li[tie], kind="stable")]
            cuts = np.flatnonzero(np.diff(li[tie])) + 1
            for run in np.split(tie, cuts):
                better = pc.less(ords.take(pa.array(run)), pa.scalar(thr_order[int(li[run[0]])], ords.type))
                keep[run[better.to_numpy(zero_copy_only=False)]] = True
        rows = np.flatnonzero(keep)
        if not len(rows):
            return
        rows = rows[np.argsort(li[rows], kind="stable")]
        cuts = np.flatnonzero(np.diff(li[rows])) + 1
        for run in np.split(rows, cuts):
            g = int(li[run[0]])
            table = pa.table({"h": hits[run], "o": ords.take(pa.array(run)), "i": ids.take(pa.array(run))})
            if len(run) > self.n:
                table = table.take(pc.select_k_unstable(table, k=self.n,
                                                        sort_keys=[("h", "descending"), ("o", "ascending")]))
            merged = self.best.get((g, kind), []) + list(zip(table["h"].to_pylist(), table["o"].to_pylist(),
                                                              table["i"].to_pylist()))
            self.best[(g, kind)] = sorted(merged, key=lambda r: (-r[0], r[1]))[:self.n]


class Reducer:
    """The running counts of one reduction (see the module docstring for the batch columns)."""

    def __init__(self, n_modes: int, n_groups: int, n_sources: int, interventions: list[list[int]],
                 examples: int) -> None:
        self.m, self.g, self.s = n_modes, n_groups, n_sources
        if (n_groups * n_sources * 3) >= 1 << (62 - 2 * n_modes):
            raise ValueError(f"too many groups x sources ({n_groups} x {n_sources}) to count patterns of")
        self.interventions = interventions
        self.patterns: list[pd.DataFrame] = []
        self.scores: list[pd.DataFrame] = []
        self.calls = np.zeros(n_groups * 9, dtype=np.int64)
        self.before = np.zeros(n_groups * n_modes * n_modes, dtype=np.int64)
        self.after = np.zeros_like(self.before)
        self.both = np.zeros_like(self.before)
        self.first = np.zeros(n_groups * n_modes, dtype=np.int64)
        self.first_rows = np.zeros(n_groups, dtype=np.int64)
        self.top = TopN(examples, len(interventions) + 1)  # kind len(interventions): unexplained failures

    def add(self, batch: pa.RecordBatch) -> None:
        m = self.m
        li = batch.column("_li").to_numpy().astype(np.int64)
        si = batch.column("_si").to_numpy().astype(np.int64)
        s = batch.column("_s").to_numpy().astype(np.int64)
        present = np.empty((len(li), m), dtype=bool)
        assessed = np.empty((len(li), m), dtype=bool)
        for j in range(m):
            col = batch.column(f"_m{j}")
            present[:, j] = pc.fill_null(col, False).to_numpy(zero_copy_only=False)
            assessed[:, j] = col.is_valid().to_numpy(zero_copy_only=False)
        pm = mask_bits(present)
        key = (((li * self.s + si) * 3 + (s + 1)) << (2 * m)) | (mask_bits(assessed) << m) | pm
        uniq, counts = np.unique(key, return_counts=True)
        self.patterns.append(pd.DataFrame({"key": uniq, "n": counts}))
        self._scores(li, batch.column("_score").to_numpy(zero_copy_only=False))
        called = batch.column("_c").to_numpy().astype(np.int64)
        self.calls += np.bincount(li * 9 + (s + 1) * 3 + called + 1, minlength=self.g * 9)
        self._onsets(li, s, present, batch)
        failed = s == 0
        ords, ids = batch.column("_ord"), batch.column("id")
        for kind, cols in enumerate(self.interventions):
            hits = present[:, cols].sum(axis=1) * failed if cols else np.zeros(len(li), dtype=np.int64)
            self.top.add(kind, li, hits, ords, ids, self.g)
        self.top.add(len(self.interventions), li, (failed & (pm == 0)).astype(np.int64), ords, ids, self.g)

    def _scores(self, li: np.ndarray, score: np.ndarray) -> None:
        valid = ~np.isnan(score)
        if not valid.any():
            return
        values, inverse = np.unique(score[valid], return_inverse=True)
        code = li[valid] * len(values) + inverse
        if len(values) * self.g <= 4 * len(code):
            counts = np.bincount(code, minlength=len(values) * self.g)
            code = np.flatnonzero(counts)
            counts = counts[code]
        else:
            code, counts = np.unique(code, return_counts=True)
        self.scores.append(pd.DataFrame({"li": code // len(values), "value": values[code % len(values)],
                                         "n": counts}))

    def _onsets(self, li: np.ndarray, s: np.ndarray, present: np.ndarray, batch: pa.RecordBatch) -> None:
        """Pair order (``before`` / ``after`` / ``both``) and first onsets, over each row's localized modes only:
        the work is the pairs that exist, not every pair of modes in every row."""
        m = self.m
        onset = np.full(present.shape, np.nan)
        for j in range(m):
            onset[:, j] = np.where(present[:, j], batch.column(f"_o{j}").to_numpy(zero_copy_only=False), np.nan)
        localized = ~np.isnan(onset)
        rows, modes = np.nonzero(localized)  # row-major: modes ascending within a row
        if not len(rows):
            return
        values = onset[rows, modes]
        k = localized.sum(axis=1)
        start = np.cumsum(k) - k
        rest = (k[rows] - (np.arange(len(rows)) - start[rows]) - 1).astype(np.int16)  # later localized modes
        order = np.argsort(rest, kind="stable")
        sorted_rest = rest[order]
        size = self.g * m * m
        for d in range(1, int(sorted_rest[-1]) + 1):
            e = order[np.searchsorted(sorted_rest, d):]
            f = e + d
            code = (li[rows[e]] * m + modes[e]) * m + modes[f]
            self.both += np.bincount(code, minlength=size)
            self.before += np.bincount(code[values[e] < values[f]], minlength=size)
            self.after += np.bincount(code[values[e] > values[f]], minlength=size)
        earliest = np.where(localized, onset, np.inf).min(axis=1)
        failed = s == 0
        self.first_rows += np.bincount(li[failed & (k > 0)], minlength=self.g)
        first = failed[rows] & (values == earliest[rows])
        self.first += np.bincount(li[rows[first]] * m + modes[first], minlength=self.g * m)
