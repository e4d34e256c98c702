"""Issue 25.5: a reply keeps its request slot until what it yielded is stored, so requests on the wire plus
replies not yet stored never exceed the run's concurrency (all a crash can cost). Real local servers and
real stores throughout."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fake_openai import FakeOpenAI, Response, error, good, reply
from judge_helpers import fill, judge

from mastlens.judges.llm.client import ChatClient, ResponseFormat
from mastlens.judges.llm.http import ConnectionFailed, JsonPoster
from mastlens.judges.offload import RunWork
from mastlens.judges.runner import annotate_traces
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import Annotation, AnnotationStatus, ModeStatus, ModeVerdict, Verdict

MESSAGES = [{"role": "user", "content": "judge this"}]


def test_a_held_reply_keeps_its_slot_until_released():
    with FakeOpenAI(lambda request, n: reply("{}", request)) as server:
        poster = JsonPoster(server.url, headers={}, timeout=10, max_workers=2, hold_s=60)

        async def main() -> None:
            posts = [asyncio.ensure_future(poster.post("/chat/completions", b"{}", held=True)) for _ in range(3)]
            done, pending = await asyncio.wait(posts, return_when=asyncio.FIRST_COMPLETED)
            while len(done) < 2:
                more, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                done |= more
            await asyncio.sleep(0.3)  # time enough for a third request, were a slot free
            assert server.calls == 2 and len(pending) == 1
            first = next(iter(done)).result()
            assert first.status == 200 and first.release is not None and not first.release.is_set()
            first.release.set()
            third = await asyncio.wait_for(next(iter(pending)), 10)
            assert server.calls == 3 and third.status == 200
            for task in done:
                task.result().release.set()
            third.release.set()

        try:
            asyncio.run(main())
        finally:
            poster.close()


def test_a_forgotten_release_frees_the_slot_after_the_bound_and_close_frees_every_slot():
    with FakeOpenAI(lambda request, n: reply("{}", request)) as server:
        poster = JsonPoster(server.url, headers={}, timeout=10, max_workers=1, hold_s=0.2)

        async def bounded() -> None:
            await poster.post("/chat/completions", b"{}", held=True)  # never released
            second = await asyncio.wait_for(poster.post("/chat/completions", b"{}", held=True), 10)
            assert second.status == 200 and server.calls == 2

        asyncio.run(bounded())
        poster.close()

        held = JsonPoster(server.url, headers={}, timeout=10, max_workers=1, hold_s=600)

        async def closed() -> threading.Event:
            got = await held.post("/chat/completions", b"{}", held=True)
            held.close()
            return got.release

        release = asyncio.run(closed())
        assert release.is_set()  # the pool thread waits for nobody once the client is closed


def test_close_fails_a_held_request_still_queued_instead_of_leaving_it_waiting():
    with FakeOpenAI(lambda request, n: reply("{}", request)) as server:
        poster = JsonPoster(server.url, headers={}, timeout=10, max_workers=1, hold_s=600)

        async def main() -> None:
            first = await poster.post("/chat/completions", b"{}", held=True)  # holds the one slot
            queued = asyncio.ensure_future(poster.post("/chat/completions", b"{}", held=True))
            await asyncio.sleep(0.1)
            assert not queued.done() and server.calls == 1
            poster.close()
            with pytest.raises(ConnectionFailed):
                await asyncio.wait_for(queued, 10)
            assert first.release.is_set()

        asyncio.run(main())


def test_a_reply_that_is_not_kept_frees_its_slot_at_once():
    """A 500 and an unreadable 200 are retried: with one slot and a bound of 10 minutes, the retry could
    only be sent if those replies' slots were freed as they came in."""
    def responder(request, n):
        if n == 0:
            return error(500)
        if n == 1:
            return Response(200, raw=b"<html>gateway</html>")
        return reply("{}", request)

    with FakeOpenAI(responder) as server:
        client = ChatClient(model="m", base_url=server.url, api_key="sk-test-secret", backoff_base=0.0, max_retries=3)
        client.set_slots(1)
        client.hold_replies = True

        async def main():
            client._http().hold_s = 600
            try:
                got = await asyncio.wait_for(client.complete(MESSAGES, fmt=ResponseFormat.PLAIN, schema={},
                                                             temperature=0.0, max_tokens=None), 20)
                assert got.release is not None and not got.release.is_set()  # the kept reply still holds it
                got.release.set()
                return got
            finally:
                await client.aclose()

        got = asyncio.run(main())
    assert got.content == "{}" and server.calls == 3


def test_run_work_frees_a_slot_only_after_the_cache_entry_is_committed(store_location):
    seen: dict[str, str | None] = {}
    with Store(store_location) as store:
        work = RunWork(store)
        release = threading.Event()

        def watch() -> None:  # another connection, as a resumed run would read the store
            release.wait(30)
            with Store(store_location) as other:
                seen["at release"] = other.cache_get("k1")

        watcher = threading.Thread(target=watch)
        watcher.start()

        async def main() -> None:
            work.cache_put("k1", '{"content": "x", "format": "plain"}')
            assert not release.is_set()
            work.release_when_durable([release])
            await work.close()

        asyncio.run(main())
        watcher.join(30)
    assert seen["at release"] == '{"content": "x", "format": "plain"}'


def _take_cache_write_lock(other: Store) -> None:
    """Inside ``with other.conn``: the write lock on the reply cache (SQLite: on the whole file). Reads go on."""
    other.conn.execute(other.dialect.begin_write)
    if other.dialect.name == "postgresql":
        other.conn.execute("LOCK TABLE judge_cache IN EXCLUSIVE MODE")


def _busy_neighbour(store_location: str, stop: threading.Event) -> None:
    """Another writer on the same store (a second worker, say) that keeps taking the reply cache's write
    lock for a moment: the run's commits wait behind it, as they do on a shared store."""
    with Store(store_location) as other:
        while not stop.is_set():
            with other.conn:
                _take_cache_write_lock(other)
                time.sleep(0.03)
            time.sleep(0.03)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_requests_sent_but_not_stored_never_exceed_the_concurrency(store, store_location, concurrency):
    """At every request's arrival, requests received minus verdicts stored (what a crash would cost) <= C,
    even while another writer keeps the run's commits waiting."""
    n = 40
    fill(store, n)
    stop = threading.Event()
    neighbour = threading.Thread(target=_busy_neighbour, args=(store_location, stop))
    peaks: list[int] = []
    lock = threading.Lock()
    local = threading.local()

    def responder(request, i):
        if getattr(local, "store", None) is None:
            local.store = Store(store_location)
        stored = local.store.conn.execute(
            "SELECT COUNT(*) FROM judge_cache WHERE response LIKE ?", ('{"content"%',)).fetchone()[0]
        with lock:
            peaks.append(i + 1 - stored)
        return good(request, i)

    with FakeOpenAI(responder, latency=0.1) as srv:  # long enough for the runner to queue requests ahead
        neighbour.start()
        try:
            summary = annotate_traces(store, judge(srv.url), concurrency=concurrency)
        finally:
            stop.set()
            neighbour.join(30)
        assert srv.calls == n
    assert summary.annotated == n and summary.errors == 0
    assert len(peaks) == n and max(peaks) <= concurrency, f"up to {max(peaks)} requests not stored at once"


def _lock_writes(store_location: str, locked: threading.Event, unlock: threading.Event) -> None:
    with Store(store_location) as other:
        with other.conn:
            _take_cache_write_lock(other)
            locked.set()
            unlock.wait(30)


def test_a_commit_that_fails_loses_nothing_and_the_next_one_writes_it(store, store_location):
    """A store locked longer than the run's wait makes one commit fail: its verdicts and cache entries go
    back in the buffer (they used to be dropped, and the run then counted their traces as not started)."""
    ids = fill(store, 3)
    store.ensure_set("judge", judge="rules")
    if store.dialect.name == "postgresql":
        store.conn.execute("SET lock_timeout = '100ms'")
    else:
        store.conn.execute("PRAGMA busy_timeout = 100")
    locked, unlock = threading.Event(), threading.Event()
    holder = threading.Thread(target=_lock_writes, args=(store_location, locked, unlock))
    holder.start()
    assert locked.wait(30)
    modes = {m: ModeVerdict(id=m, status=ModeStatus.ABSENT) for m in load_taxonomy().ids}
    work = RunWork(store, batch=1)

    async def main() -> None:
        try:
            work.cache_put("reply-key", '{"content": "x", "format": "plain"}')
            for trace_id in ids:
                work.save(Annotation(trace_id=trace_id, set="judge", status=AnnotationStatus.OK,
                                     verdict=Verdict(modes=modes)))
            for _ in range(300):
                if work.failed_flushes:
                    break
                await asyncio.sleep(0.01)
        finally:
            unlock.set()
        await work.close()

    asyncio.run(main())
    holder.join(30)
    assert work.failed_flushes >= 1
    assert store.annotated_ids("judge") == set(ids)
    assert store.cache_get("reply-key") == '{"content": "x", "format": "plain"}'
