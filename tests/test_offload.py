"""The runner's helper thread and write buffer: reads see buffered writes, one flush writes them all."""

from __future__ import annotations

import asyncio
import threading

from judge_helpers import fill

from mastlens.judges.offload import RunWork
from mastlens.trace import Annotation, AnnotationStatus


def test_buffered_writes_are_visible_to_the_run_and_written_when_it_ends(store):
    ids = fill(store, 3)
    store.ensure_set("s", judge="rules")
    work = RunWork(store, batch=100, max_delay=60)
    threads: list[str] = []

    async def run() -> None:
        work.cache_put("verdict:k", "{}")
        assert work.cache_get("verdict:k") == "{}" and store.cache_get("verdict:k") is None  # buffered
        for trace_id in ids:
            work.save(Annotation(trace_id=trace_id, set="s", status=AnnotationStatus.ERROR, error="x"))
        assert store.annotated_ids("s", status=None) == set()  # not yet: one batch at the end
        threads.append(await work.run(lambda: threading.current_thread().name))
        work.waiting = lambda: False  # no request in flight: the work is done at once, on the loop's thread
        threads.append(await work.run(lambda: threading.current_thread().name))
        await work.close()

    asyncio.run(run())
    assert store.cache_get("verdict:k") == "{}"
    assert store.annotated_ids("s", status="error") == set(ids) and work.flushes == 1
    assert threads[0].startswith("mastlens-run") and threads[1] == threading.main_thread().name
