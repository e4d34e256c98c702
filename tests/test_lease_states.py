"""A work row's state follows the verdict stored for it: an ok verdict keeps the trace done for every later
offer (even one racing the write that stored it), an error or a changed trace frees it for the next run."""

from __future__ import annotations

import threading
import time

from judge_helpers import fill
from test_store import annotation

from mastlens.store import Store
from mastlens.trace import Annotation, AnnotationStatus


def _error(trace_id: str, set_name: str = "s") -> Annotation:
    return Annotation(trace_id=trace_id, set=set_name, status=AnnotationStatus.ERROR, error="endpoint said 500")


def test_an_ok_verdict_committed_while_another_worker_offers_stays_done(store, store_location):
    """The two-worker race: worker b chose its traces before worker a stored a verdict, and offers them
    while a's transaction is about to commit. The trace must not be freed for a second judging."""
    ids = fill(store, 3)
    store.ensure_set("s", judge="rules")
    store.offer_work("s", ids)
    taken, _ = store.claim_work("s", 3, "worker-a", 30)
    assert sorted(taken) == sorted(ids)
    outcome: dict[str, object] = {}

    def worker_b() -> None:
        with Store(store_location) as b:
            b.offer_work("s", ids)  # waits on a's row locks (PostgreSQL) or write lock (SQLite)
            outcome["claimed"] = b.claim_work("s", 10, "worker-b", 30)
            outcome["pending"] = b.pending_work("s")

    with store.transaction():
        store.save_annotations([annotation(ids[0])], lease_worker="worker-a")
        thread = threading.Thread(target=worker_b)
        thread.start()
        time.sleep(0.6)  # b's offer is under way and blocked on a's uncommitted write
    thread.join(timeout=30)
    assert not thread.is_alive()
    claimed, _ = outcome["claimed"]
    assert ids[0] not in claimed  # judged once: a stored it, b does not take it again
    assert claimed == []  # the other two are still a's
    assert outcome["pending"][0] == 2


def test_an_error_is_retried_by_the_next_run_and_an_ok_verdict_is_not(store):
    ids = fill(store, 2)
    store.ensure_set("s", judge="rules")
    store.offer_work("s", ids)
    store.claim_work("s", 2, "worker-a", 30)
    store.save_annotations([annotation(ids[0]), _error(ids[1])], lease_worker="worker-a")
    assert store.pending_work("s") == (0, 0.0)
    store.offer_work("s", ids)  # a new run asks for both
    claimed, recovered = store.claim_work("s", 10, "worker-b", 30)
    assert claimed == [ids[1]] and recovered == 0


def test_a_changed_trace_is_freed_for_the_next_run(store):
    from test_store import make_trace

    trace = make_trace("t-changed")
    store.add_trace(trace)
    store.ensure_set("s", judge="rules")
    store.offer_work("s", [trace.id])
    store.claim_work("s", 1, "worker-a", 30)
    store.save_annotations([annotation(trace.id)], lease_worker="worker-a")
    store.offer_work("s", [trace.id])
    assert store.claim_work("s", 1, "worker-b", 30) == ([], 0)  # its verdict is current
    assert store.add_trace(make_trace("t-changed", text="edited")).action == "replaced"
    store.offer_work("s", [trace.id])
    assert store.claim_work("s", 1, "worker-b", 30) == ([trace.id], 0)


def test_a_verdict_stored_without_a_lease_marks_the_row_too(store):
    """A label import or a one-off save (no worker) sets the row's state as a leased run's write does."""
    ids = fill(store, 2)
    store.ensure_set("s", judge="rules")
    store.offer_work("s", ids)
    store.save_annotations([annotation(ids[0])])
    store.save_annotation(_error(ids[1]))
    store.offer_work("s", ids)
    assert store.claim_work("s", 10, "worker-b", 30) == ([ids[1]], 0)
