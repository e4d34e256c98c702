"""Failure vectors reduced to what the statistics read: distinct rows with counts.

Every figure ``stats`` reports per group (prevalences, the fatal / benign tests, the stratified ones, modes per
trace, categories, co-occurrence, the comparison, the regression, the AUROC of the failure vector and its
bootstrap) depends on a trace only through its group, its source, its outcome and which modes are present and
assessed in it. So the vectors become the distinct (group, source, outcome, present modes, assessed modes)
rows with how many traces share each (about 500,000 rows for ten million generated vectors, however many
traces there are). Beside them, small tables carry the rest: per group the distinct scores and their counts
(the mean score), the judge's own outcome calls, the onset order counts (for each pair of modes, the traces
where both are localized and which shows first; per mode, the failed traces it opens) and the first few failed
trace ids of each kind (unexplained failures, the playbook's examples).

DuckDB hands the rows over in Arrow batches, from the exported Parquet files or from a frame built from the
store, and :mod:`mastlens.analysis.pattern_reduce` counts them in one pass (memory: one batch and the
distinct rows, whatever the number of traces): both paths give the same tables, and the statistics, computed
from the tables only, the same figures.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mastlens.analysis.pattern_reduce import Reducer, merge_counts

BATCH_ROWS = 1 << 19
EXAMPLES = 5  # ids kept per group and kind: the unexplained failures' examples (the playbook shows 3)
#: Arrow types read as the store frame's nullable pandas dtypes (so group keys print as from the store)
STORE_DTYPES = {pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}

#: distinct key rows -> (group label per row, source label per row or None, groups that are sources)
Labeler = Callable[[pd.DataFrame], tuple[np.ndarray, "np.ndarray | None", list[str]]]


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


@dataclass
class Relation:
    """Vector rows for DuckDB: a FROM item (with its parameters) on connection ``con``, the columns it has, the
    columns groups and sources are read from, and the column whose order picks the example trace ids."""

    con: Any
    sql: str
    params: list[Any]
    columns: set[str]
    keys: list[str]
    order: str = "id"


@dataclass
class Patterns:
    """The reduced vectors: per distinct row its group, source, outcome, present / assessed modes and count,
    plus the side tables (see the module docstring). Rows are sorted, so both paths hold the same arrays."""

    mode_ids: list[str]
    group: np.ndarray  # object: the group label of each row
    source: np.ndarray | None  # object: its source label, None when the vectors carry no source
    success: np.ndarray  # int8: 1, 0, -1 (unknown)
    present: np.ndarray  # bool (rows x modes)
    assessed: np.ndarray  # bool (rows x modes)
    count: np.ndarray  # int64: traces with this row
    groups_by_source: list[str] = field(default_factory=list)
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # group -> (values, counts)
    calls: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # group, success, called, count
    before: dict[str, np.ndarray] = field(default_factory=dict)  # group -> modes x modes: i before j (both localized)
    after: dict[str, np.ndarray] = field(default_factory=dict)
    both: dict[str, np.ndarray] = field(default_factory=dict)
    first: dict[str, np.ndarray] = field(default_factory=dict)  # group -> per mode: failed traces it opens
    first_rows: dict[str, int] = field(default_factory=dict)  # group -> failed traces with a localized mode
    examples: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # (group, kind) -> trace ids
    interventions: list[str] = field(default_factory=list)  # kind k < len: the playbook's k-th; then unexplained

    @property
    def n(self) -> int:
        return int(self.count.sum())

    def mean_score(self, group: str) -> float | None:
        values, counts = self.scores.get(group, (np.zeros(0), np.zeros(0, dtype=np.int64)))
        total = int(counts.sum())
        return float(np.dot(values, counts) / total) if total else None

    def unexplained_ids(self, group: str) -> list[str]:
        return self.examples.get((group, len(self.interventions)), [])

    def intervention_ids(self, group: str) -> dict[str, list[str]]:
        return {item: self.examples.get((group, k), []) for k, item in enumerate(self.interventions)}


def _column(rel: Relation, name: str, sql_type: str | None = None) -> str:
    if name not in rel.columns:
        return f"CAST(NULL AS {sql_type or 'DOUBLE'})"
    return f"CAST(r.{quote(name)} AS {sql_type})" if sql_type else f"r.{quote(name)}"


class _KeyIndex:
    """Each row's group and source index from its key values, by lookup (no join in the scan)."""

    def __init__(self, distinct: pa.Table, li: np.ndarray, si: np.ndarray) -> None:
        self.values = [pc.unique(distinct.column(k)) for k in distinct.column_names]
        code = self._code([distinct.column(k) for k in distinct.column_names])
        size = int(np.prod([len(v) for v in self.values]))
        self.li, self.si = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        self.li[code], self.si[code] = li, si

    def _code(self, columns: list[pa.Array]) -> np.ndarray:
        code = np.zeros(len(columns[0]), dtype=np.int64)
        for values, column in zip(self.values, columns):
            at = pc.index_in(column, value_set=values, skip_nulls=False)
            code = code * len(values) + at.to_numpy(zero_copy_only=False).astype(np.int64)
        return code

    def of(self, batch: pa.RecordBatch, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
        code = self._code([batch.column(f"_k{i}") for i in range(n_keys)])
        return self.li[code], self.si[code]


def _rebatched(reader: pa.RecordBatchReader, rows: int):  # noqa: ANN202 - a generator of record batches
    """The reader's batches joined into ones of about ``rows`` rows (DuckDB may stream small ones), read ahead
    by a thread of their own: DuckDB scans the next batch (without the GIL) while the caller counts this one."""
    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            pending, size = [], 0
            for batch in reader:
                if stop.is_set():
                    return
                pending.append(batch)
                size += batch.num_rows
                if size >= rows:
                    ready.put(pa.Table.from_batches(pending).combine_chunks().to_batches()[0])
                    pending, size = [], 0
            if size:
                ready.put(pa.Table.from_batches(pending).combine_chunks().to_batches()[0])
            ready.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            ready.put(exc)

    worker = threading.Thread(target=read, name="mastlens-scan", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # the consumer stopped early (an error): unblock the reader, let it end
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


def reduce_vectors(rel: Relation, mode_ids: list[str], labeler: Labeler, judge_call: str,
                   onset_suffix: str, playbook: list[tuple[str, list[str]]]) -> Patterns:
    """Count the rows of ``rel`` into :class:`Patterns` in one scan. ``labeler`` names the groups and sources
    from the distinct values of ``rel.keys``; ``playbook``: (intervention, its modes) for the example ids."""
    con, keys = rel.con, rel.keys
    distinct = con.sql(f"SELECT DISTINCT {', '.join(quote(k) for k in keys)} FROM {rel.sql} AS r",
                       params=rel.params or None).to_arrow_table()
    frame = distinct.to_pandas(types_mapper=STORE_DTYPES.get)
    labels, sources, by_source = labeler(frame) if len(frame) else (np.array([], object), None, [])
    names = sorted(set(labels.tolist()))
    source_names = sorted(set(sources.tolist())) if sources is not None else [""]
    index = _KeyIndex(distinct, np.array([names.index(v) for v in labels], dtype=np.int64),
                      np.array([source_names.index(v) for v in sources] if sources is not None
                               else [0] * len(labels), dtype=np.int64)) if len(frame) else None
    col = {m: j for j, m in enumerate(mode_ids)}
    selected = [f"r.{quote(k)} AS _k{i}" for i, k in enumerate(keys)]
    selected += [f"{_column(rel, 'success', 'BOOLEAN')} AS _s", f"{_column(rel, judge_call, 'BOOLEAN')} AS _c",
                 f"{_column(rel, 'score', 'DOUBLE')} AS _score", "CAST(r.id AS VARCHAR) AS id"]
    if rel.order != "id":
        selected.append(f"r.{quote(rel.order)} AS _ord")
    selected += [f"CAST(r.{quote(m)} AS BOOLEAN) AS _m{j}" for j, m in enumerate(mode_ids)]
    selected += [f"{_column(rel, m + onset_suffix)} AS _o{j}" for j, m in enumerate(mode_ids)]
    reducer = Reducer(len(mode_ids), max(1, len(names)), len(source_names),
                      [[col[m] for m in modes if m in col] for _, modes in playbook], EXAMPLES)
    if index is not None:
        reader = con.sql(f"SELECT {', '.join(selected)} FROM {rel.sql} AS r",
                         params=rel.params or None).to_arrow_reader(BATCH_ROWS)
        for batch in _rebatched(reader, BATCH_ROWS):
            reducer.add(batch, *index.of(batch, len(keys)))
    return _patterns(reducer, mode_ids, names, source_names if sources is not None else None, by_source,
                     judge_call in rel.columns, [name for name, _ in playbook])


def _patterns(red: Reducer, mode_ids: list[str], names: list[str], sources: list[str] | None,
              by_source: list[str], has_calls: bool, interventions: list[str]) -> Patterns:
    m = len(mode_ids)
    table = merge_counts(red.patterns, ["key"])
    key = table["key"].to_numpy(dtype=np.int64)
    n = table["n"].to_numpy(dtype=np.int64)
    full = (np.int64(1) << m) - 1
    pm, am, rest = key & full, (key >> m) & full, key >> (2 * m)
    success = (rest % 3 - 1).astype(np.int8)
    # group and source indices follow their sorted labels, so the key's order is the labels' order: the same
    # rows in the same order on both paths
    li, si = (rest // 3) // len(sources or [""]), (rest // 3) % len(sources or [""])
    bits = np.int64(1) << np.arange(m, dtype=np.int64)
    group = np.array([names[i] for i in li], dtype=object)
    out = Patterns(
        mode_ids=list(mode_ids), group=group,
        source=None if sources is None else np.array([sources[i] for i in si], dtype=object),
        success=success, present=(pm[:, None] & bits) != 0, assessed=(am[:, None] & bits) != 0, count=n,
        groups_by_source=by_source, interventions=interventions)
    scores = merge_counts(red.scores, ["li", "value"])
    for i, part in scores.groupby("li", sort=True):
        out.scores[names[int(i)]] = (part["value"].to_numpy(dtype=float), part["n"].to_numpy(dtype=np.int64))
    if has_calls:
        calls = red.calls.reshape(len(names) or 1, 3, 3)
        g, s, c = np.nonzero(calls)
        out.calls = (np.array([names[i] for i in g], dtype=object), (s - 1).astype(np.int8),
                     (c - 1).astype(np.int8), calls[g, s, c])
    for i, name in enumerate(names):
        out.before[name] = red.before.reshape(-1, m, m)[i]
        out.after[name] = red.after.reshape(-1, m, m)[i]
        out.both[name] = red.both.reshape(-1, m, m)[i]
        out.first[name] = red.first.reshape(-1, m)[i]
        out.first_rows[name] = int(red.first_rows[i])
    for (i, kind), rows in red.top.best.items():
        out.examples[(names[i], kind)] = [str(r[2]) for r in rows]
    return out
