"""The store's annotations: per-trace and per-mode verdicts of each set, the verdict memo, the judge cache."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mastlens.store.dialect import Dialect
from mastlens.store.leases import DONE_OK

if TYPE_CHECKING:
    from mastlens.trace import Annotation


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class AnnotationStore:
    """The annotation half of :class:`mastlens.store.Store` (a mixin: ``conn`` and ``dialect`` come from it)."""

    conn: Any
    dialect: Dialect
    transaction: Any  # Store.transaction

    def save_annotation(self, ann: Annotation) -> None:
        """Write one trace's annotation (and its modes) atomically, replacing any earlier one."""
        self.save_annotations([ann])

    def save_annotations(self, annotations: Iterable[Annotation], *, lease_worker: str | None = None) -> None:
        """Write many annotations in one transaction (label files, batches), each replacing any earlier one.
        The traces' work rows (leased work) record the new state in the same transaction, done by
        ``lease_worker`` when given."""
        with self.transaction():
            done: dict[tuple[str, bool], list[str]] = {}
            for ann in annotations:
                self._write_annotation(ann)
                done.setdefault((ann.set, ann.status.value == "ok"), []).append(ann.trace_id)
            for (set_name, ok), trace_ids in done.items():
                self.finish_leases(set_name, trace_ids, lease_worker, ok=ok)

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
        none), in one transaction and without leaving the database. Returns the trace ids copied and the number
        of judge replies they stand for (the windows each verdict was asked in)."""
        if not wanted:
            return set(), 0
        a_cols = ("status", "summary", "task_completed", "segmented", "raw_reply", "verdict_meta", "trace_hash",
                  "decisive_step", "decisive_agent", "decisive_reason", "memo_key")
        m_cols = ("mode_id", "status", "confidence", "reason", "evidence", "has_verified_evidence", "flip_rate",
                  "onset_step")
        with self.transaction():
            self.conn.execute(self.dialect.ddl(
                "CREATE TEMP TABLE IF NOT EXISTS memo_wanted (trace_id TEXT PRIMARY KEY, memo_key TEXT, src_set TEXT)"))
            self.conn.execute("DELETE FROM memo_wanted")
            self.conn.executemany("INSERT INTO memo_wanted (trace_id, memo_key) VALUES (?, ?)", wanted.items())
            self.conn.execute(
                """UPDATE memo_wanted SET src_set = (
                       SELECT a.set_name FROM trace_annotations a WHERE a.memo_key = memo_wanted.memo_key
                       AND a.trace_id = memo_wanted.trace_id AND a.status = 'ok' AND a.stale = 0
                       AND a.set_name != ? LIMIT 1)""", (set_name,))
            self.conn.execute("DELETE FROM memo_wanted WHERE src_set IS NULL")
            self.conn.execute(
                "DELETE FROM trace_annotations WHERE set_name = ? AND trace_id IN (SELECT trace_id FROM memo_wanted)",
                (set_name,))
            self.conn.execute(
                f"""INSERT INTO trace_annotations (set_name, trace_id, attempts, {', '.join(a_cols)})
                    SELECT ?, a.trace_id, 1, {', '.join('a.' + c for c in a_cols)}
                    FROM memo_wanted w JOIN trace_annotations a ON a.set_name = w.src_set AND a.trace_id = w.trace_id""",
                (set_name,))
            self.conn.execute(
                f"""INSERT INTO mode_annotations (set_name, trace_id, {', '.join(m_cols)})
                    SELECT ?, m.trace_id, {', '.join('m.' + c for c in m_cols)}
                    FROM memo_wanted w JOIN mode_annotations m ON m.set_name = w.src_set AND m.trace_id = w.trace_id""",
                (set_name,))
            self.conn.execute(
                "UPDATE work_leases SET done = ?, expires_at = 0 WHERE set_name = ? "
                "AND trace_id IN (SELECT trace_id FROM memo_wanted)", (DONE_OK, set_name))
            rows = self.conn.execute(
                """SELECT w.trace_id, a.verdict_meta FROM memo_wanted w
                   JOIN trace_annotations a ON a.set_name = w.src_set AND a.trace_id = w.trace_id""").fetchall()
        return {r[0] for r in rows}, sum(int(json.loads(r[1]).get("windows") or 1) for r in rows)

    def cache_put(self, key: str, response: str) -> None:
        self.conn.execute("INSERT INTO judge_cache (key, response) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                          "SET response = excluded.response", (key, response))
