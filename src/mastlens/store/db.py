"""The store: traces, tags and annotation sets, on SQLite (a local file, the default) or PostgreSQL (a
``postgresql://`` URL). Annotations and the judge cache are in :mod:`mastlens.store.annotations`, leased
work in :mod:`mastlens.store.leases`, the SQL that differs by engine in :mod:`mastlens.store.dialect`."""

from __future__ import annotations

import json
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mastlens.store.annotations import AnnotationStore, _bool
from mastlens.store.dialect import POSTGRESQL, SQLITE
from mastlens.store.leases import DONE_OK, DONE_RETRY, LeaseStore
from mastlens.store.migrations import migrate
from mastlens.store.pg import PgConnection, is_server_url, redact

_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()


def close_open_stores() -> None:
    """Close every store still open (a process about to leave without the interpreter's teardown)."""
    for store in list(_OPEN):
        store.close()


if TYPE_CHECKING:  # the pydantic models load when a method needs them: listing rows (`traces`) never does
    from mastlens.trace import Annotation, Trace

DEFAULT_DB = "mastlens.db"


def default_db_path() -> Path:
    return Path(os.environ.get("MASTLENS_DB") or DEFAULT_DB)


def default_location() -> str | Path:
    """``MASTLENS_DB`` (a file or a ``postgresql://`` URL), else ``./mastlens.db``."""
    value = os.environ.get("MASTLENS_DB") or DEFAULT_DB
    return value if is_server_url(value) else Path(value)


@dataclass
class StoreResult:
    """What happened to one trace on ingest."""

    action: str  # "inserted" | "unchanged" | "replaced" | "renamed"
    trace_id: str
    original_id: str


@dataclass
class TraceRow:
    id: str
    format: str
    source_path: str | None
    system: str | None
    model: str | None
    task: str | None
    n_steps: int
    n_tool_calls: int
    success: bool | None
    score: float | None
    hash: str
    version: int


@dataclass
class AnnotationSetInfo:
    name: str
    judge: str
    model: str | None
    endpoint_host: str | None
    prompt_hash: str | None
    taxonomy_version: str | None
    params: dict[str, Any]
    created_at: str
    updated_at: str


def _same_source(stored: str | None, new: str | None) -> bool:
    """Whether two source paths name the same file (one may be relative, from an older ingest)."""
    return stored == new or bool(stored and new and os.path.abspath(stored) == os.path.abspath(new))


def _without_ruled_success(data: dict[str, Any]) -> dict[str, Any]:
    """A trace as JSON without its source, and without its success unless the source itself gave it."""
    outcome = dict(data.get("outcome") or {})
    if outcome.get("success_from") == "rule" or outcome.get("success") is None:
        outcome.pop("success", None)
        outcome.pop("success_from", None)
    return {**{k: v for k, v in data.items() if k != "source"}, "outcome": outcome}


def _without_success(data: dict[str, Any]) -> dict[str, Any]:
    outcome = {k: v for k, v in (data.get("outcome") or {}).items() if k not in ("success", "success_from")}
    return {**data, "outcome": outcome}


class Store(AnnotationStore, LeaseStore):
    """A mastlens database. Safe to open many times; each instance holds one connection.

    ``location`` is a SQLite file (``:memory:`` too) or a ``postgresql://user@host:port/name`` URL (the
    password from the URL, ``PGPASSWORD`` or ``~/.pgpass``). ``path`` is the file, or the URL without its
    password (what messages and reports may show); ``location`` keeps what was given."""

    def __init__(self, location: str | Path | None = None):
        location = location if location is not None else default_location()
        self.location = location
        self._depth = 0
        self._traces_locked = False
        if is_server_url(location):
            self.dialect = POSTGRESQL
            self.path: Any = redact(str(location))
            self.conn: Any = PgConnection(str(location))
        else:
            self.dialect = SQLITE
            self.path = Path(location)
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        _OPEN.add(self)
        try:
            migrate(self.conn, self.dialect)
        except BaseException:
            self.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, its write lock taken at once; a nested one joins the outer (ingest stores
        a file's traces in one). Commits at the end, rolls back on an exception."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self.conn:
            self.conn.execute(self.dialect.begin_write)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._traces_locked = False

    def close(self) -> None:
        self.conn.close()
        _OPEN.discard(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- traces -------------------------------------------------------------------------------

    def add_trace(self, trace: Trace) -> StoreResult:
        """Store a trace: identical content is a no-op; changed content from the same source
        replaces it (its annotations are kept and marked stale); a different trace that
        collides on id is stored as ``<id>@<file name>`` (then ``<id>@<file name>~2``, ``~3``...
        while those too are taken by other sources), so no stored trace is ever overwritten. Atomic, also
        against another process storing the same trace at once (ingest from several machines)."""
        digest = trace.content_hash()
        with self.transaction():
            if self.dialect.lock_traces and not self._traces_locked:
                self.conn.execute(self.dialect.lock_traces)
                self._traces_locked = True
            return self._add_trace(trace, digest)

    def _add_trace(self, trace: Trace, digest: str) -> StoreResult:
        original = trace.id
        for candidate in self._candidate_ids(trace):
            row = self.conn.execute("SELECT hash, source_path FROM traces WHERE id = ?", (candidate,)).fetchone()
            if row is None:
                self._insert(trace.model_copy(update={"id": candidate}), digest)
                return StoreResult("inserted" if candidate == original else "renamed", candidate, original)
            same_source = _same_source(row["source_path"], trace.source.path)
            if row["hash"] == digest or self._differs_only_in_ruled_success(candidate, trace):
                if row["hash"] != digest and same_source:  # another --success rule: re-derived, still current
                    self._update_success(trace.model_copy(update={"id": candidate}), digest)
                return StoreResult("unchanged", candidate, original)
            if same_source:
                return self._replace(trace.model_copy(update={"id": candidate}), digest, original)
        raise AssertionError("unreachable: candidate ids are endless")  # pragma: no cover

    @staticmethod
    def _candidate_ids(trace: Trace) -> Iterator[str]:
        yield trace.id
        alt = f"{trace.id}@{Path(trace.source.path or 'unknown').name}"
        yield alt
        n = 2
        while True:
            yield f"{alt}~{n}"
            n += 1

    def _differs_only_in_ruled_success(self, trace_id: str, trace: Trace) -> bool:
        """Whether the stored trace says the same as ``trace`` except for a success derived by a rule
        (ingest with another --success rule): that is no content change, and its annotations stay current."""
        row = self.conn.execute("SELECT data FROM traces WHERE id = ?", (trace_id,)).fetchone()
        stored, new = json.loads(row["data"]), trace.model_dump(mode="json")
        if "rule" in (stored.get("outcome", {}).get("success_from"), trace.outcome.success_from):
            # a rule decided on one side: the source's own flag on the other is what the rule overrode
            stored, new = (_without_success(d) for d in (stored, new))
        return _without_ruled_success(stored) == _without_ruled_success(new)

    def _update_success(self, trace: Trace, digest: str) -> None:
        self.conn.execute(
            f"UPDATE traces SET success=?, hash=?, data=?, updated_at={self.dialect.now} WHERE id=?",
            (None if trace.outcome.success is None else int(trace.outcome.success), digest,
             trace.model_dump_json(), trace.id),
        )

    def _replace(self, trace: Trace, digest: str, original: str) -> StoreResult:
        with self.transaction():
            self.conn.execute(
                f"""UPDATE traces SET format=?, source_path=?, system=?, model=?, task=?, n_steps=?,
                   n_tool_calls=?, success=?, score=?, hash=?, version=version+1, data=?,
                   updated_at={self.dialect.now} WHERE id=?""",
                (*self._columns(trace, digest), trace.id),
            )
            self.conn.execute("UPDATE trace_annotations SET stale = 1 WHERE trace_id = ?", (trace.id,))
            self.conn.execute("UPDATE work_leases SET done = ? WHERE trace_id = ? AND done = ?",
                              (DONE_RETRY, trace.id, DONE_OK))
        return StoreResult("replaced", trace.id, original)

    @staticmethod
    def _columns(trace: Trace, digest: str) -> tuple[Any, ...]:
        success = trace.outcome.success
        return (
            trace.source.format, trace.source.path, trace.system, trace.model, trace.task,
            len(trace.steps), trace.n_tool_calls, None if success is None else int(success),
            trace.outcome.score, digest, trace.model_dump_json(),
        )

    def _insert(self, trace: Trace, digest: str) -> None:
        self.conn.execute(
            """INSERT INTO traces (format, source_path, system, model, task, n_steps, n_tool_calls,
               success, score, hash, data, id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
            (*self._columns(trace, digest), trace.id),
        )

    def get_trace(self, trace_id: str) -> Trace | None:
        from mastlens.trace import Trace

        row = self.conn.execute("SELECT data FROM traces WHERE id = ?", (trace_id,)).fetchone()
        return Trace.model_validate_json(row["data"]) if row else None

    def iter_traces(self, ids: Iterable[str] | None = None) -> Iterator[Trace]:
        from mastlens.trace import Trace

        if ids is None:
            for row in self.conn.execute("SELECT data FROM traces ORDER BY id"):
                yield Trace.model_validate_json(row["data"])
            return
        for trace_id in ids:
            trace = self.get_trace(trace_id)
            if trace is not None:
                yield trace

    def trace_rows(self) -> list[TraceRow]:
        rows = self.conn.execute(
            """SELECT id, format, source_path, system, model, task, n_steps, n_tool_calls, success,
               score, hash, version FROM traces ORDER BY id"""
        ).fetchall()
        return [TraceRow(**{**dict(r), "success": _bool(r["success"])}) for r in rows]

    def trace_hashes(self) -> dict[str, str]:
        return {r["id"]: r["hash"] for r in self.conn.execute("SELECT id, hash FROM traces")}

    def count_traces(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0]

    # -- tags ---------------------------------------------------------------------------------

    def set_tags(self, trace_id: str, tags: dict[str, str]) -> bool:
        """Give the trace these tags (a key already set takes the new value; other keys stay).
        Tags are not content: the trace's hash, version and annotations are untouched. Returns whether
        anything changed."""
        changed = 0
        for key, value in tags.items():
            changed += self.conn.execute(
                """INSERT INTO trace_tags (trace_id, key, value) VALUES (?,?,?) ON CONFLICT(trace_id, key)
                   DO UPDATE SET value=excluded.value WHERE trace_tags.value != excluded.value""",
                (trace_id, key, value)).rowcount
        return changed > 0

    def get_tags(self, trace_id: str) -> dict[str, str]:
        rows = self.conn.execute("SELECT key, value FROM trace_tags WHERE trace_id = ? ORDER BY key", (trace_id,))
        return {r["key"]: r["value"] for r in rows}

    def all_tags(self) -> dict[str, dict[str, str]]:
        """trace id -> its tags, for every tagged trace."""
        out: dict[str, dict[str, str]] = {}
        for r in self.conn.execute("SELECT trace_id, key, value FROM trace_tags ORDER BY trace_id, key"):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    # -- annotation sets ----------------------------------------------------------------------

    def ensure_set(
        self,
        name: str,
        *,
        judge: str,
        model: str | None = None,
        endpoint_host: str | None = None,
        prompt_hash: str | None = None,
        taxonomy_version: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Create the set, or refresh its description (never its annotations)."""
        self.conn.execute(
            f"""INSERT INTO annotation_sets (name, judge, model, endpoint_host, prompt_hash,
               taxonomy_version, params) VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(name) DO UPDATE SET judge=excluded.judge, model=excluded.model,
               endpoint_host=excluded.endpoint_host, prompt_hash=excluded.prompt_hash,
               taxonomy_version=excluded.taxonomy_version, params=excluded.params,
               updated_at={self.dialect.now}""",
            (name, judge, model, endpoint_host, prompt_hash, taxonomy_version, json.dumps(params or {})),
        )

    def list_sets(self) -> list[AnnotationSetInfo]:
        rows = self.conn.execute("SELECT * FROM annotation_sets ORDER BY updated_at DESC, name").fetchall()
        return [AnnotationSetInfo(**{**dict(r), "params": json.loads(r["params"])}) for r in rows]

    def get_set(self, name: str) -> AnnotationSetInfo | None:
        return next((s for s in self.list_sets() if s.name == name), None)

    def latest_set(self) -> str | None:
        """The most recently written annotation set."""
        row = self.conn.execute(
            f"""SELECT s.name FROM annotation_sets s LEFT JOIN trace_annotations a ON a.set_name = s.name
               GROUP BY s.name ORDER BY MAX(COALESCE(a.updated_at, s.updated_at)) DESC,
               s.{self.dialect.insert_order} DESC LIMIT 1"""
        ).fetchone()
        return row["name"] if row else None

    def delete_set(self, name: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM annotation_sets WHERE name = ?", (name,))
            self.conn.execute("DELETE FROM work_leases WHERE set_name = ?", (name,))
