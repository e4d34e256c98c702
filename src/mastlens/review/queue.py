"""The review queue: a seeded sample of a judge set's traces, stored so it survives a restart.

Strategies (each reproducible from its seed):

* ``stratified`` - equal shares of every group x outcome stratum, taken in turn, so small strata are seen;
* ``uncertain`` - present modes whose evidence failed verification first, then the highest flip rate
  (judge run with ``--samples``), then the lowest confidence;
* ``disagree`` - traces where the set and ``--against`` differ on a mode both assessed, most differences first;
* ``random`` - a plain random sample.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from mastlens.store import Store

STRATEGIES = ("stratified", "uncertain", "disagree", "random")


@dataclass(frozen=True)
class Candidate:
    """A trace the judge set annotated, with what the strategies sort by."""

    trace_id: str
    group: str
    outcome: str  # success | failure | unknown
    min_confidence: float | None = None
    max_flip_rate: float | None = None
    unverified: int = 0  # present modes without verified evidence
    disagreements: int = 0  # modes where the judge set and the --against set differ
    present: tuple[str, ...] = ()  # modes the judge found present


@dataclass(frozen=True)
class QueueInfo:
    id: int
    human_set: str
    judge_set: str
    strategy: str
    against_set: str
    seed: int
    sample: int
    size: int
    created: bool  # False when an earlier run's stored queue was resumed


def outcome_name(success: int | None) -> str:
    return "unknown" if success is None else "success" if success else "failure"


# -- strategies (pure: candidates in, ordered (trace id, why) out) -------------------------------

def sample_random(candidates: list[Candidate], n: int, rng: random.Random) -> list[tuple[str, str]]:
    picked = rng.sample(candidates, min(n, len(candidates)))
    return [(c.trace_id, "random") for c in picked]


def sample_stratified(candidates: list[Candidate], n: int, rng: random.Random) -> list[tuple[str, str]]:
    strata: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for c in candidates:
        strata[(c.group, c.outcome)].append(c)
    pools = []
    for key in sorted(strata):
        pool = list(strata[key])
        rng.shuffle(pool)
        pools.append((key, pool))
    out: list[tuple[str, str]] = []
    depth = 0
    while len(out) < n and any(depth < len(pool) for _, pool in pools):
        for (group, outcome), pool in pools:
            if depth < len(pool) and len(out) < n:
                out.append((pool[depth].trace_id, f"stratum {group} x {outcome}"))
        depth += 1
    return out


def sample_uncertain(candidates: list[Candidate], n: int, rng: random.Random) -> list[tuple[str, str]]:
    tiebreak = {c.trace_id: rng.random() for c in candidates}

    def key(c: Candidate) -> tuple[int, float, float, float]:
        confidence = 1.0 if c.min_confidence is None else c.min_confidence
        return (-min(c.unverified, 1), -(c.max_flip_rate or 0.0), confidence, tiebreak[c.trace_id])

    out = []
    for c in sorted(candidates, key=key)[:n]:
        why = []
        if c.unverified:
            why.append(f"{c.unverified} present mode(s) without verified evidence")
        if c.max_flip_rate:
            why.append(f"flip rate {c.max_flip_rate:.2f}")
        if c.min_confidence is not None:
            why.append(f"lowest confidence {c.min_confidence:.2f}")
        out.append((c.trace_id, "; ".join(why) or "no sign of doubt"))
    return out


def sample_disagree(candidates: list[Candidate], n: int, rng: random.Random) -> list[tuple[str, str]]:
    differing = [c for c in candidates if c.disagreements > 0]
    tiebreak = {c.trace_id: rng.random() for c in differing}
    ordered = sorted(differing, key=lambda c: (-c.disagreements, tiebreak[c.trace_id]))[:n]
    return [(c.trace_id, f"{c.disagreements} mode(s) differ") for c in ordered]


SAMPLERS = {"stratified": sample_stratified, "uncertain": sample_uncertain, "disagree": sample_disagree,
            "random": sample_random}


# -- candidates from the store -------------------------------------------------------------------

def load_candidates(store: Store, judge_set: str, against: str | None = None) -> list[Candidate]:
    """Every trace with a current, successful annotation in ``judge_set`` (sorted by id, so seeds reproduce)."""
    rows = store.conn.execute(
        """SELECT a.trace_id, COALESCE(t.model, t.system) AS grp, t.success FROM trace_annotations a
           JOIN traces t ON t.id = a.trace_id
           WHERE a.set_name = ? AND a.stale = 0 AND a.status = 'ok' ORDER BY a.trace_id""", (judge_set,)).fetchall()
    doubt = {r[0]: r for r in store.conn.execute(
        """SELECT trace_id, MIN(CASE WHEN status != 'not_assessed' THEN confidence END), MAX(flip_rate),
                  SUM(status = 'present' AND has_verified_evidence = 0),
                  GROUP_CONCAT(CASE WHEN status = 'present' THEN mode_id END, ' ')
           FROM mode_annotations WHERE set_name = ? GROUP BY trace_id""", (judge_set,))}
    differ: dict[str, int] = {}
    if against:
        differ = {r[0]: r[1] for r in store.conn.execute(
            """SELECT a.trace_id, COUNT(*) FROM mode_annotations a
               JOIN mode_annotations b ON b.set_name = ? AND b.trace_id = a.trace_id AND b.mode_id = a.mode_id
               JOIN trace_annotations tb ON tb.set_name = b.set_name AND tb.trace_id = b.trace_id
                    AND tb.stale = 0 AND tb.status = 'ok'
               WHERE a.set_name = ? AND a.status != 'not_assessed' AND b.status != 'not_assessed'
                     AND a.status != b.status
               GROUP BY a.trace_id""", (against, judge_set))}
    out = []
    for trace_id, group, success in rows:
        d = doubt.get(trace_id)
        out.append(Candidate(
            trace_id=trace_id, group=group or "unknown", outcome=outcome_name(success),
            min_confidence=d[1] if d else None, max_flip_rate=d[2] if d else None,
            unverified=int(d[3] or 0) if d else 0, disagreements=differ.get(trace_id, 0),
            present=tuple(sorted((d[4] or "").split())) if d else ()))
    return out


def build_queue(candidates: list[Candidate], strategy: str, n: int, seed: int) -> list[tuple[str, str]]:
    """The ordered queue (trace id, why it was picked) for ``strategy``; the same seed gives the same queue."""
    if strategy not in SAMPLERS:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return SAMPLERS[strategy](candidates, n, random.Random(seed))


def open_queue(store: Store, *, human_set: str, judge_set: str, strategy: str, sample: int, seed: int,
               against: str | None = None) -> QueueInfo:
    """The stored queue for these settings, built and stored on first use (so progress survives restarts)."""
    key = (human_set, judge_set, strategy, against or "", seed, sample)
    where = "human_set=? AND judge_set=? AND strategy=? AND against_set=? AND seed=? AND sample=?"
    row = store.conn.execute(f"SELECT id FROM review_queues WHERE {where}", key).fetchone()
    created = row is None
    if created:
        candidates = {c.trace_id: c for c in load_candidates(store, judge_set, against)}
        items = build_queue(list(candidates.values()), strategy, sample, seed)
        with store.conn:
            store.conn.execute("BEGIN IMMEDIATE")
            row = store.conn.execute(f"SELECT id FROM review_queues WHERE {where}", key).fetchone()
            inserted = None
            if row is None:  # another process may have built it meanwhile (on PostgreSQL: may be building it)
                inserted = store.conn.execute(
                    """INSERT INTO review_queues (human_set, judge_set, strategy, against_set, seed, sample)
                       VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING RETURNING id""", key).fetchone()
                if inserted is None:
                    row = store.conn.execute(f"SELECT id FROM review_queues WHERE {where}", key).fetchone()
            if inserted is not None:
                queue_id = inserted[0]
                store.conn.executemany(
                    """INSERT INTO review_queue_items (queue_id, position, trace_id, why, grp, outcome, judge_present)
                       VALUES (?,?,?,?,?,?,?)""",
                    [(queue_id, i, trace_id, why, candidates[trace_id].group, candidates[trace_id].outcome,
                      "".join(f" {m} " for m in candidates[trace_id].present))
                     for i, (trace_id, why) in enumerate(items)])
                row = (queue_id,)
    size = store.conn.execute("SELECT COUNT(*) FROM review_queue_items WHERE queue_id = ?", (row[0],)).fetchone()[0]
    return QueueInfo(id=row[0], human_set=human_set, judge_set=judge_set, strategy=strategy,
                     against_set=against or "", seed=seed, sample=sample, size=size, created=created)
