"""Leased work: many annotation workers (processes, machines) share one set's traces, each judged once.

A run offers the traces it means to annotate (one ``work_leases`` row per set and trace); a worker claims
a few at a time under a lease that ends ``ttl`` seconds later by the *database's* clock (so a worker whose
own clock is off can neither steal a live lease nor keep a dead one), renews its leases while it works,
and marks each trace done in the transaction that stores its verdict. A killed worker's leases expire and
its traces go to the others. The claim is ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (claimers
never wait on each other's rows) and the same SELECT under SQLite's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from typing import Any

from mastlens.store.dialect import Dialect


# work_leases.done: 0 to do (free or leased), DONE_OK a current ok verdict is stored, DONE_RETRY the stored
# verdict is an error or out of date (the trace changed): a later run's offer frees it again
DONE_OK = 1
DONE_RETRY = 2


class LeaseStore:
    """The lease half of :class:`mastlens.store.Store` (a mixin: ``conn`` and ``dialect`` come from it)."""

    conn: Any
    dialect: Dialect
    transaction: Any  # Store.transaction

    def offer_work(self, set_name: str, trace_ids: list[str]) -> None:
        """Put the traces in the set's pool and make them this connection's selection (what its claims
        choose from). New ones are free; finished ones whose verdict is an error or out of date are free
        again (a new run asked for them); a trace another worker holds now stays its own, and one with a
        current ok verdict stays done, even if that verdict was stored after this run chose its traces.

        The state is the row's own ``done`` (see :meth:`finish_leases`), never a look at the annotations:
        under PostgreSQL's read committed, a subquery would read the annotations as of the statement's start
        while the conflicting row is read as of now, and a verdict stored in between would be judged again."""
        d = self.dialect
        with self.transaction():
            self.conn.execute(d.ddl("CREATE TEMP TABLE IF NOT EXISTS lease_selection (trace_id TEXT PRIMARY KEY)"))
            self.conn.execute("DELETE FROM lease_selection")
            if not trace_ids:
                return
            self.conn.execute(f"INSERT INTO lease_selection (trace_id) SELECT t.value FROM ({d.list_rows}) t",
                              (d.list_param(trace_ids),))
            self.conn.execute(
                f"""INSERT INTO work_leases (set_name, trace_id) SELECT ?, trace_id FROM lease_selection
                    WHERE true ON CONFLICT (set_name, trace_id) DO UPDATE SET done = 0, worker = '', expires_at = 0
                    WHERE work_leases.done = {DONE_RETRY}""", (set_name,))

    def claim_work(self, set_name: str, n: int, worker: str, ttl: float) -> tuple[list[str], int]:
        """Lease to ``worker`` for ``ttl`` seconds up to ``n`` free traces of the selection (free: never
        leased, released, or a lease that expired), and take them out of the selection. Returns the trace
        ids and how many of them were taken over from another worker's expired lease."""
        d = self.dialect
        with self.transaction():
            rows = self.conn.execute(
                f"""SELECT w.trace_id, w.worker FROM work_leases w JOIN lease_selection s ON s.trace_id = w.trace_id
                    WHERE w.set_name = ? AND w.done = 0 AND w.expires_at < {d.epoch}
                    ORDER BY w.trace_id LIMIT ?{d.skip_locked}""", (set_name, n)).fetchall()
            ids = [r[0] for r in rows]
            if ids:
                self.conn.execute(
                    f"""UPDATE work_leases SET worker = ?, expires_at = {d.epoch} + ?
                        WHERE set_name = ? AND {d.in_list('trace_id')}""", (worker, ttl, set_name, d.list_param(ids)))
                self.conn.execute(f"DELETE FROM lease_selection WHERE {d.in_list('trace_id')}", (d.list_param(ids),))
        return ids, sum(1 for r in rows if r[1] not in ("", worker))

    def renew_leases(self, set_name: str, worker: str, ttl: float) -> int:
        """Extend every unfinished lease the worker holds by ``ttl`` seconds from now; returns how many."""
        cur = self.conn.execute(
            f"UPDATE work_leases SET expires_at = {self.dialect.epoch} + ? WHERE set_name = ? AND worker = ? "
            "AND done = 0", (ttl, set_name, worker))
        return cur.rowcount

    def finish_leases(self, set_name: str, trace_ids: list[str], worker: str | None = None, *,
                      ok: bool = True) -> None:
        """Mark the traces done (inside the transaction that stores their verdicts): ``DONE_OK`` for a
        current ok verdict, ``DONE_RETRY`` for an error a later run retries. Done whoever holds the lease
        now: the verdict is stored, so nobody need judge the trace again in this run. With ``worker``
        the rows name it as the one that finished them."""
        self.conn.execute(
            f"UPDATE work_leases SET done = ?, worker = COALESCE(?, worker), expires_at = 0 WHERE set_name = ? "
            f"AND {self.dialect.in_list('trace_id')}",
            (DONE_OK if ok else DONE_RETRY, worker, set_name, self.dialect.list_param(trace_ids)))

    def release_leases(self, set_name: str, worker: str) -> int:
        """Give the worker's unfinished traces back to the pool (a run that stops early); returns how many."""
        cur = self.conn.execute(
            "UPDATE work_leases SET worker = '', expires_at = 0 WHERE set_name = ? AND worker = ? AND done = 0",
            (set_name, worker))
        return cur.rowcount

    def pending_work(self, set_name: str) -> tuple[int, float]:
        """How many traces of the selection are not done yet, and the seconds until the next of their
        leases ends."""
        row = self.conn.execute(
            f"""SELECT COUNT(*), MIN(w.expires_at - {self.dialect.epoch}) FROM work_leases w
                JOIN lease_selection s ON s.trace_id = w.trace_id WHERE w.set_name = ? AND w.done = 0""",
            (set_name,)).fetchone()
        return int(row[0]), max(0.0, float(row[1] or 0.0))
