"""One pass over vector rows in Arrow batches, reduced to the counts :class:`~mastlens.analysis.patterns.Patterns`
holds. Every table is a sum of integer counts (or the first few trace ids by a total order), so neither the
batch size nor the order DuckDB hands the rows over in changes a figure.

A batch carries the key columns (its group and source indices are passed beside it), ``_s`` (success, a
nullable bool), ``_c`` (the judge's own outcome call, a nullable bool), ``_score``, ``_ord`` (the order of
example ids), ``id``, and per mode ``_m{j}`` (tri-state bool) and ``_o{j}`` (onset, a number or null).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _bits(buffer: pa.Buffer | None, offset: int, n: int, default: bool) -> np.ndarray:
    """An Arrow bitmap as a numpy bool array (``default`` everywhere when there is none)."""
    if buffer is None:
        return np.full(n, default)
    start = offset // 8
    raw = np.frombuffer(buffer, dtype=np.uint8)[start:(offset + n + 7) // 8 + 1]
    return np.unpackbits(raw, bitorder="little")[offset % 8:offset % 8 + n].view(bool)


def bools(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(true, not null) of a bool column, straight from its bitmaps."""
    n = len(column)
    if column.type == pa.null():
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    validity, data = column.buffers()[:2]
    valid = _bits(validity, column.offset, n, True)
    return _bits(data, column.offset, n, False) & valid, valid


def numbers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values as floats, not null and not NaN) of a numeric column, straight from its buffers."""
    n = len(column)
    if column.type == pa.null():
        return np.zeros(n), np.zeros(n, dtype=bool)
    validity, data = column.buffers()[:2]
    raw = np.frombuffer(data, dtype=column.type.to_pandas_dtype())[column.offset:column.offset + n]
    valid = _bits(validity, column.offset, n, True)
    if raw.dtype.kind == "f":
        return raw.astype(float), valid & ~np.isnan(raw)
    return raw.astype(float), valid


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
        self.score_values = np.zeros(0)
        self.calls = np.zeros(n_groups * 9, dtype=np.int64)
        self.before = np.zeros(n_groups * n_modes * n_modes, dtype=np.int64)
        self.after = np.zeros_like(self.before)
        self.both = np.zeros_like(self.before)
        self.first = np.zeros(n_groups * n_modes, dtype=np.int64)
        self.first_rows = np.zeros(n_groups, dtype=np.int64)
        self.top = TopN(examples, len(interventions) + 1)  # kind len(interventions): unexplained failures

    def add(self, batch: pa.RecordBatch, li: np.ndarray, si: np.ndarray) -> None:
        """One batch; ``li`` / ``si``: each row's group and source index."""
        m = self.m
        s = _tri(batch.column("_s"))
        present, assessed = zip(*(bools(batch.column(f"_m{j}")) for j in range(m))) if m else ((), ())
        pm = np.zeros(len(li), dtype=np.int64)
        am = np.zeros(len(li), dtype=np.int64)
        for j in range(m):
            pm |= present[j].astype(np.int64) << j
            am |= assessed[j].astype(np.int64) << j
        key = (((li * self.s + si) * 3 + (s + 1)) << (2 * m)) | (am << m) | pm
        counts = pd.Series(key).value_counts(sort=False)  # hashing: cheaper than sorting the batch
        self.patterns.append(pd.DataFrame({"key": counts.index.to_numpy(), "n": counts.to_numpy()}))
        score, scored = numbers(batch.column("_score"))
        self._scores(li[scored], score[scored])
        self.calls += np.bincount(li * 9 + (s + 1) * 3 + _tri(batch.column("_c")) + 1, minlength=self.g * 9)
        self._onsets(li, s, present, batch)
        failed = s == 0
        ids = batch.column("id")
        ords = batch.column("_ord") if "_ord" in batch.schema.names else ids
        for kind, cols in enumerate(self.interventions):
            hits = np.zeros(len(li), dtype=np.int64)
            for j in cols:
                hits += present[j]
            self.top.add(kind, li, hits * failed, ords, ids, self.g)
        self.top.add(len(self.interventions), li, (failed & (pm == 0)).astype(np.int64), ords, ids, self.g)

    def _scores(self, li: np.ndarray, score: np.ndarray) -> None:
        if not len(score):
            return
        values = self.score_values  # the values seen so far: most batches hold no new one
        at = np.minimum(np.searchsorted(values, score), max(len(values) - 1, 0))
        if not len(values) or not np.array_equal(values[at], score):
            values = self.score_values = np.union1d(values, score)
            at = np.searchsorted(values, score)
        code = li * len(values) + at
        if len(values) * self.g <= 4 * len(code):
            counts = np.bincount(code, minlength=len(values) * self.g)
            code = np.flatnonzero(counts)
            counts = counts[code]
        else:
            code, counts = np.unique(code, return_counts=True)
        self.scores.append(pd.DataFrame({"li": code // len(values), "value": values[code % len(values)],
                                         "n": counts}))

    def _onsets(self, li: np.ndarray, s: np.ndarray, present: list[np.ndarray], batch: pa.RecordBatch) -> None:
        """Pair order (``before`` / ``after`` / ``both``) and first onsets. Each row's localized modes are
        laid out left-justified (in mode order), so that position pair (p, q) covers only the rows with more
        than q of them: the work is the pairs that exist, not every pair of modes in every row."""
        m, n = self.m, len(li)
        onsets, localized = [], []
        for j in range(m):
            values, valid = numbers(batch.column(f"_o{j}"))
            onsets.append(values)
            localized.append(valid & present[j])
        k = np.zeros(n, dtype=np.int8)
        for j in range(m):
            k += localized[j]
        if not k.any():
            return
        depth = int(k.max())
        mode_at = np.zeros((depth, n), dtype=np.int64)
        value_at = np.zeros((depth, n))
        flat_modes, flat_values = mode_at.reshape(-1), value_at.reshape(-1)
        filled = np.zeros(n, dtype=np.int64)  # localized modes before mode j, per row
        for j in range(m):
            rows = np.flatnonzero(localized[j])
            at = filled[rows] * n + rows
            flat_modes[at] = j
            flat_values[at] = onsets[j][rows]
            filled += localized[j]
        codes, lt, gt = [], [], []
        for q in range(1, depth):
            rows = np.flatnonzero(k > q)  # rows with more than q localized modes
            right, vq = mode_at[q, rows] + li[rows] * m * m, value_at[q, rows]
            for p in range(q):
                code = right + mode_at[p, rows] * m
                vp = value_at[p, rows]
                codes.append(code)
                lt.append(code[vp < vq])
                gt.append(code[vp > vq])
        size = self.g * m * m
        if codes:
            self.both += np.bincount(np.concatenate(codes), minlength=size)
            self.before += np.bincount(np.concatenate(lt), minlength=size)
            self.after += np.bincount(np.concatenate(gt), minlength=size)
        earliest = np.full(n, np.inf)
        for values, where in zip(onsets, localized):
            np.minimum(earliest, values, out=earliest, where=where)
        opened = (s == 0) & (k > 0)
        self.first_rows += np.bincount(li[opened], minlength=self.g)
        for j in range(m):
            self.first[j::m] += np.bincount(li[opened & localized[j] & (onsets[j] == earliest)], minlength=self.g)


def _tri(column: pa.Array) -> np.ndarray:
    """A nullable bool column as 1 / 0 / -1 (null)."""
    true, valid = bools(column)
    return np.where(valid, true.astype(np.int64), -1)
