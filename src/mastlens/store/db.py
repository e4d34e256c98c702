"""The embedded SQLite store: traces, annotation sets, annotations and the judge cache."""

from __future__ import annotations

import json
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mastlens.store.migrations import migrate

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


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class Store:
    """A mastlens database. Safe to open many times; each instance holds one connection."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        _OPEN.add(self)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        migrate(self.conn)

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
        while those too are taken by other sources), so no stored trace is ever overwritten."""
        digest = trace.content_hash()
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
            """UPDATE traces SET success=?, hash=?, data=?, updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
               WHERE id=?""",
            (None if trace.outcome.success is None else int(trace.outcome.success), digest,
             trace.model_dump_json(), trace.id),
        )

    def _replace(self, trace: Trace, digest: str, original: str) -> StoreResult:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                """UPDATE traces SET format=?, source_path=?, system=?, model=?, task=?, n_steps=?,
                   n_tool_calls=?, success=?, score=?, hash=?, version=version+1, data=?,
                   updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id=?""",
                (*self._columns(trace, digest), trace.id),
            )
            self.conn.execute("UPDATE trace_annotations SET stale = 1 WHERE trace_id = ?", (trace.id,))
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
        before = self.conn.total_changes
        self.conn.executemany(
            """INSERT INTO trace_tags (trace_id, key, value) VALUES (?,?,?)
               ON CONFLICT(trace_id, key) DO UPDATE SET value=excluded.value WHERE value != excluded.value""",
            [(trace_id, key, value) for key, value in tags.items()],
        )
        return self.conn.total_changes != before

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
            """INSERT INTO annotation_sets (name, judge, model, endpoint_host, prompt_hash,
               taxonomy_version, params) VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(name) DO UPDATE SET judge=excluded.judge, model=excluded.model,
               endpoint_host=excluded.endpoint_host, prompt_hash=excluded.prompt_hash,
               taxonomy_version=excluded.taxonomy_version, params=excluded.params,
               updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')""",
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
            """SELECT s.name FROM annotation_sets s LEFT JOIN trace_annotations a ON a.set_name = s.name
               GROUP BY s.name ORDER BY MAX(COALESCE(a.updated_at, s.updated_at)) DESC, s.rowid DESC LIMIT 1"""
        ).fetchone()
        return row["name"] if row else None

    def delete_set(self, name: str) -> None:
        self.conn.execute("DELETE FROM annotation_sets WHERE name = ?", (name,))

    # -- annotations --------------------------------------------------------------------------

    def save_annotation(self, ann: Annotation) -> None:
        """Write one trace's annotation (and its modes) atomically, replacing any earlier one."""
        self.save_annotations([ann])

    def save_annotations(self, annotations: Iterable[Annotation]) -> None:
        """Write many annotations in one transaction (label files, batches), each replacing any earlier one."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for ann in annotations:
                self._write_annotation(ann)

    def _write_annotation(self, ann: Annotation) -> None:
        v = ann.verdict
        self.conn.execute(
            "DELETE FROM trace_annotations WHERE set_name = ? AND trace_id = ?", (ann.set, ann.trace_id)
        )
        self.conn.execute(
            """INSERT INTO trace_annotations (set_name, trace_id, status, summary, task_completed,
               segmented, error, raw_reply, verdict_meta, input_tokens, output_tokens, cost_usd,
               latency_s, attempts, trace_hash, stale, decisive_step, decisive_agent, decisive_reason, memo_key)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                ann.set, ann.trace_id, ann.status.value, v.summary if v else None,
                None if v is None or v.task_completed is None else int(v.task_completed),
                int(bool(v and v.segmented)), ann.error, ann.raw_reply,
                json.dumps(v.metadata if v else {}), ann.input_tokens, ann.output_tokens,
                ann.cost_usd, ann.latency_s, ann.attempts, ann.trace_hash, int(ann.stale),
                v.decisive_step if v else None, v.decisive_agent if v else None, v.decisive_reason if v else "",
                ann.memo_key if ann.status.value == "ok" else None,
            ),
        )
        if v is not None:
            self.conn.executemany(
                """INSERT INTO mode_annotations (set_name, trace_id, mode_id, status, confidence,
                   reason, evidence, has_verified_evidence, flip_rate, onset_step) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                [
                    (
                        ann.set, ann.trace_id, m.id, m.status.value, m.confidence, m.reason,
                        json.dumps([e.model_dump() for e in m.evidence]), int(m.has_verified_evidence),
                        m.flip_rate, m.onset_step,
                    )
                    for m in v.modes.values()
                ],
            )

    def decisive_steps(self, trace_id: str) -> list[tuple[str, int, str | None, str]]:
        """(set, step, agent, reason) of every current ok annotation of the trace that names a decisive step."""
        rows = self.conn.execute(
            """SELECT set_name, decisive_step, decisive_agent, decisive_reason FROM trace_annotations
               WHERE trace_id = ? AND stale = 0 AND status = 'ok' AND decisive_step IS NOT NULL ORDER BY set_name""",
            (trace_id,)).fetchall()
        return [(r[0], r[1], r[2], r[3] or "") for r in rows]

    def annotated_ids(self, set_name: str, *, status: str | None = "ok") -> set[str]:
        """Trace ids with a current (not stale) annotation in the set, optionally of one status."""
        sql = "SELECT trace_id FROM trace_annotations WHERE set_name = ? AND stale = 0"
        args: list[Any] = [set_name]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        return {r[0] for r in self.conn.execute(sql, args)}

    def get_annotations(self, set_name: str, *, include_stale: bool = False) -> list[Annotation]:
        """Every annotation of a set, with verdicts rebuilt from the per-mode rows."""
        from mastlens.trace import Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Verdict

        sql = "SELECT * FROM trace_annotations WHERE set_name = ?"
        if not include_stale:
            sql += " AND stale = 0"
        rows = self.conn.execute(sql + " ORDER BY trace_id", (set_name,)).fetchall()
        modes: dict[str, dict[str, ModeVerdict]] = {}
        for m in self.conn.execute("SELECT * FROM mode_annotations WHERE set_name = ?", (set_name,)):
            modes.setdefault(m["trace_id"], {})[m["mode_id"]] = ModeVerdict(
                id=m["mode_id"], status=ModeStatus(m["status"]), confidence=m["confidence"],
                reason=m["reason"], evidence=[Evidence(**e) for e in json.loads(m["evidence"])],
                flip_rate=m["flip_rate"], onset_step=m["onset_step"],
            )
        out = []
        for r in rows:
            verdict = None
            if r["status"] == "ok":
                verdict = Verdict(
                    summary=r["summary"] or "", task_completed=_bool(r["task_completed"]),
                    modes=modes.get(r["trace_id"], {}), segmented=bool(r["segmented"]),
                    metadata=json.loads(r["verdict_meta"]), decisive_step=r["decisive_step"],
                    decisive_agent=r["decisive_agent"], decisive_reason=r["decisive_reason"] or "",
                )
            out.append(
                Annotation(
                    trace_id=r["trace_id"], set=set_name, status=AnnotationStatus(r["status"]),
                    verdict=verdict, error=r["error"], raw_reply=r["raw_reply"],
                    input_tokens=r["input_tokens"], output_tokens=r["output_tokens"], cost_usd=r["cost_usd"],
                    latency_s=r["latency_s"], attempts=r["attempts"], stale=bool(r["stale"]),
                    trace_hash=r["trace_hash"], memo_key=r["memo_key"],
                )
            )
        return out

    # -- judge cache --------------------------------------------------------------------------

    def cache_get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT response FROM judge_cache WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def copy_remembered(self, set_name: str, wanted: dict[str, str]) -> tuple[set[str], int]:
        """Into ``set_name``, copy for each trace id of ``wanted`` a current ok annotation of another set
        stored under the same memo key (its verdict and modes; no tokens, cost or time: this run spent
        none), in one transaction and without leaving SQLite. Returns the trace ids copied and the number
        of judge replies they stand for (the windows each verdict was asked in)."""
        if not wanted:
            return set(), 0
        a_cols = ("status", "summary", "task_completed", "segmented", "raw_reply", "verdict_meta", "trace_hash",
                  "decisive_step", "decisive_agent", "decisive_reason", "memo_key")
        m_cols = ("mode_id", "status", "confidence", "reason", "evidence", "has_verified_evidence", "flip_rate",
                  "onset_step")
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS memo_wanted (trace_id TEXT PRIMARY KEY, memo_key TEXT, "
                              "src_set TEXT)")
            self.conn.execute("DELETE FROM temp.memo_wanted")
            self.conn.executemany("INSERT INTO temp.memo_wanted (trace_id, memo_key) VALUES (?, ?)", wanted.items())
            self.conn.execute(
                """UPDATE temp.memo_wanted SET src_set = (
                       SELECT a.set_name FROM trace_annotations a WHERE a.memo_key = memo_wanted.memo_key
                       AND a.trace_id = memo_wanted.trace_id AND a.status = 'ok' AND a.stale = 0
                       AND a.set_name != ? LIMIT 1)""", (set_name,))
            self.conn.execute("DELETE FROM temp.memo_wanted WHERE src_set IS NULL")
            self.conn.execute(
                "DELETE FROM trace_annotations WHERE set_name = ? AND trace_id IN (SELECT trace_id FROM temp.memo_wanted)",
                (set_name,))
            self.conn.execute(
                f"""INSERT INTO trace_annotations (set_name, trace_id, attempts, {', '.join(a_cols)})
                    SELECT ?, a.trace_id, 1, {', '.join('a.' + c for c in a_cols)}
                    FROM temp.memo_wanted w JOIN trace_annotations a ON a.set_name = w.src_set AND a.trace_id = w.trace_id""",
                (set_name,))
            self.conn.execute(
                f"""INSERT INTO mode_annotations (set_name, trace_id, {', '.join(m_cols)})
                    SELECT ?, m.trace_id, {', '.join('m.' + c for c in m_cols)}
                    FROM temp.memo_wanted w JOIN mode_annotations m ON m.set_name = w.src_set AND m.trace_id = w.trace_id""",
                (set_name,))
            rows = self.conn.execute(
                """SELECT w.trace_id, COALESCE(json_extract(a.verdict_meta, '$.windows'), 1) FROM temp.memo_wanted w
                   JOIN trace_annotations a ON a.set_name = w.src_set AND a.trace_id = w.trace_id""").fetchall()
        return {r[0] for r in rows}, sum(int(r[1]) for r in rows)

    def cache_put(self, key: str, response: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO judge_cache (key, response) VALUES (?, ?)", (key, response))
