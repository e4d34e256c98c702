"""Provider batch jobs of ``annotate --batch``: what was submitted, under which ids, and each request's fate.

A job is one batch at the provider. Its row is written before anything is uploaded (status ``preparing``),
gets the uploaded file's id and the provider's batch id as they are known (``submitted``), the results once
they are downloaded and their replies cached (``downloaded``), and is ``collected`` when the verdicts they
finish are stored. A line is one request of a job (``custom_id``) for one window of one sample of one
trace; identical requests of two traces share one line. Timestamps are written here, in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

PREPARING, SUBMITTED, DOWNLOADED, COLLECTED = "preparing", "submitted", "downloaded", "collected"
PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass
class BatchJob:
    job_id: str
    set_name: str
    endpoint_host: str
    round: int
    status: str = PREPARING
    provider_status: str | None = None
    input_file_id: str | None = None
    batch_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    lines: int = 0


@dataclass
class BatchLine:
    job_id: str
    custom_id: str
    trace_id: str
    sample: int
    window_index: int
    state: str = PENDING
    error: str | None = None
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0


# the table columns are the records' fields, in their order
_JOB_COLS = tuple(f.name for f in fields(BatchJob))
_LINE_COLS = tuple(f.name for f in fields(BatchLine))


def _begin(store: Any) -> str:
    """The statement that opens a write transaction on the store's engine (SQLite's BEGIN IMMEDIATE takes
    the write lock at once; a store with a dialect says its own)."""
    dialect = getattr(store, "dialect", None)
    return getattr(dialect, "begin_write", "BEGIN IMMEDIATE")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_job(store: Any, job: BatchJob, lines: Iterable[BatchLine]) -> None:
    """Record a job and its lines (one transaction), before anything is sent."""
    stamp = _now()
    with store.conn:
        store.conn.execute(_begin(store))
        store.conn.execute(
            f"INSERT INTO llm_batches ({', '.join(_JOB_COLS)}, created_at, updated_at) "
            f"VALUES ({', '.join('?' * (len(_JOB_COLS) + 2))})",
            (*(getattr(job, c) for c in _JOB_COLS), stamp, stamp))
        store.conn.executemany(
            f"INSERT INTO llm_batch_lines ({', '.join(_LINE_COLS)}) VALUES ({', '.join('?' * len(_LINE_COLS))})",
            [tuple(getattr(line, c) for c in _LINE_COLS) for line in lines])


def update_job(store: Any, job: BatchJob, **changes: Any) -> None:
    """Set ``changes`` on the job, in memory and in the store."""
    unknown = set(changes) - set(_JOB_COLS[3:])
    if unknown:
        raise ValueError(f"not a batch job field: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(job, name, value)
    assignments = ", ".join(f"{name} = ?" for name in changes)
    store.conn.execute(f"UPDATE llm_batches SET {assignments}, updated_at = ? WHERE job_id = ?",
                       (*changes.values(), _now(), job.job_id))


def delete_job(store: Any, job_id: str) -> None:
    """Forget a job that never reached the provider (its lines go with it)."""
    with store.conn:
        store.conn.execute(_begin(store))
        store.conn.execute("DELETE FROM llm_batch_lines WHERE job_id = ?", (job_id,))
        store.conn.execute("DELETE FROM llm_batches WHERE job_id = ?", (job_id,))


def delete_set_jobs(store: Any, set_name: str) -> None:
    """Forget every job of a set (``--replace``)."""
    with store.conn:
        store.conn.execute(_begin(store))
        store.conn.execute("DELETE FROM llm_batch_lines WHERE job_id IN "
                           "(SELECT job_id FROM llm_batches WHERE set_name = ?)", (set_name,))
        store.conn.execute("DELETE FROM llm_batches WHERE set_name = ?", (set_name,))


def _job(row: Any) -> BatchJob:
    return BatchJob(**{c: row[i] for i, c in enumerate(_JOB_COLS)})


def _line(row: Any) -> BatchLine:
    return BatchLine(**{c: row[i] for i, c in enumerate(_LINE_COLS)})


def jobs(store: Any, set_name: str, *, open_only: bool = False) -> list[BatchJob]:
    """The set's jobs, oldest first; with ``open_only``, those not yet collected."""
    sql = f"SELECT {', '.join(_JOB_COLS)} FROM llm_batches WHERE set_name = ?"
    args: tuple[Any, ...] = (set_name,)
    if open_only:
        sql += " AND status != ?"
        args += (COLLECTED,)
    return [_job(r) for r in store.conn.execute(sql + " ORDER BY created_at, job_id", args)]


def job_lines(store: Any, job_id: str) -> list[BatchLine]:
    rows = store.conn.execute(f"SELECT {', '.join(_LINE_COLS)} FROM llm_batch_lines WHERE job_id = ? "
                              "ORDER BY custom_id, trace_id, sample, window_index", (job_id,))
    return [_line(r) for r in rows]


def record_lines(store: Any, job: BatchJob, lines: Iterable[BatchLine], cache: Iterable[tuple[str, str]]) -> None:
    """Store a downloaded job's results in one transaction: each line's state and usage, the replies into
    the judge cache (``cache``: key, value), and the job as ``downloaded``."""
    stamp = _now()
    with store.conn:
        store.conn.execute(_begin(store))
        store.conn.executemany(
            "UPDATE llm_batch_lines SET state = ?, error = ?, input_tokens = ?, cached_tokens = ?, output_tokens = ? "
            "WHERE job_id = ? AND custom_id = ? AND trace_id = ? AND sample = ? AND window_index = ?",
            [(ln.state, ln.error, ln.input_tokens, ln.cached_tokens, ln.output_tokens, ln.job_id, ln.custom_id,
              ln.trace_id, ln.sample, ln.window_index) for ln in lines])
        store.conn.executemany("DELETE FROM judge_cache WHERE key = ?", [(k,) for k, _ in cache])
        store.conn.executemany("INSERT INTO judge_cache (key, response) VALUES (?, ?)", list(cache))
        store.conn.execute("UPDATE llm_batches SET status = ?, updated_at = ? WHERE job_id = ?",
                           (DOWNLOADED, stamp, job.job_id))
    job.status = DOWNLOADED


def in_flight_traces(store: Any, set_name: str) -> set[str]:
    """Traces with a request in a job of the set that is not collected yet."""
    rows = store.conn.execute(
        "SELECT DISTINCT l.trace_id FROM llm_batch_lines l JOIN llm_batches b ON b.job_id = l.job_id "
        "WHERE b.set_name = ? AND b.status != ?", (set_name, COLLECTED))
    return {r[0] for r in rows}


def usage_by_trace(store: Any, set_name: str, trace_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """(input, cached, output) tokens the set's batches spent on each trace: every line the provider
    answered and billed (a refusal too; an expired or failed line reports none)."""
    wanted = set(trace_ids)
    rows = store.conn.execute(
        "SELECT l.trace_id, SUM(l.input_tokens), SUM(l.cached_tokens), SUM(l.output_tokens) "
        "FROM llm_batch_lines l JOIN llm_batches b ON b.job_id = l.job_id "
        "WHERE b.set_name = ? GROUP BY l.trace_id", (set_name,))
    return {r[0]: (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in rows if r[0] in wanted}


def add_cost(store: Any, set_name: str, costs: dict[str, tuple[int, int, float]]) -> None:
    """Add batch spend (input tokens, output tokens, USD) to annotations written by a synchronous retry,
    which counted the windows the batch had answered as cache hits (free)."""
    with store.conn:
        store.conn.execute(_begin(store))
        store.conn.executemany(
            "UPDATE trace_annotations SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
            "cost_usd = cost_usd + ? WHERE set_name = ? AND trace_id = ?",
            [(i, o, c, set_name, t) for t, (i, o, c) in costs.items()])
