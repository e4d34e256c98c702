"""Per-trace blocking work of an annotation run, kept off the event loop.

One helper thread does what would stall the requests in flight: reading and decoding stored traces,
rendering and hashing them, cache look-ups, and the store's writes. While no request is in flight
(a cached re-run, the very start of a run) there is nothing to stall, and reads and rendering run at
once on the loop's thread instead, sparing the thread hand-offs. Writes are buffered and committed in
batches (judge-cache entries, then annotations: one transaction each per batch): while requests are in
flight, as soon as the writer is free (what finished during one commit goes in the next), so a crash
costs at most the requests on the wire; otherwise every ``max_delay`` seconds or ``batch`` annotations;
and always when the run ends. A reply holds its request slot until the commit that stores what it yielded
(:meth:`RunWork.release_when_durable`), so requests on the wire and replies not yet stored together never
exceed the run's concurrency: that is all a crash can cost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mastlens.trace import Annotation

T = TypeVar("T")


class InlineWork:
    """The same interface, done at once on the caller's thread (a judge used outside the runner)."""

    def __init__(self, store: Any = None):
        self.store = store

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    def cache_get(self, key: str) -> str | None:
        return self.store.cache_get(key) if self.store is not None else None

    def cache_put(self, key: str, value: str) -> None:
        if self.store is not None:
            self.store.cache_put(key, value)

    def release_when_durable(self, releases: list[Any]) -> None:
        """Free held request slots once what their replies yielded is stored: here, written already."""
        for release in releases:
            release.set()


class RunWork(InlineWork):
    """A run's helper thread and write buffer (see the module docstring)."""

    def __init__(self, store: Any, *, batch: int = 64, max_delay: float = 0.25):
        super().__init__(store)
        self.batch, self.max_delay = batch, max_delay
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mastlens-run")
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._annotations: list[Annotation] = []
        self._releases: list[Any] = []  # held request slots, freed by the commit of the cache entries before them
        self._oldest: float | None = None
        self._flushing: asyncio.Future[None] | None = None
        self.busy_s = 0.0  # time spent on the run's blocking work, on either thread (reported by the benchmark)
        self.flushes = 0
        self.failed_flushes = 0  # commits that failed (a store locked too long); their writes were retried
        # True while requests are in flight (set by the judge); None: always use the helper thread
        self.waiting: Callable[[], bool] | None = None
        self.lease_worker: str | None = None  # set by a leased run: its leases end with the verdicts' commit

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.waiting is not None and not self.waiting():
            return self._timed(fn, args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._timed, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the helper thread always (store writes: never beside a flush on the loop's thread)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._timed, fn, args)

    def _timed(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.busy_s += time.perf_counter() - started

    def cache_get(self, key: str) -> str | None:
        with self._lock:
            pending = self._cache.get(key)
        return pending if pending is not None else self.store.cache_get(key)

    def cache_put(self, key: str, value: str) -> None:
        with self._lock:
            self._cache[key] = value
            self._oldest = self._oldest or time.monotonic()

    def release_when_durable(self, releases: list[Any]) -> None:
        """Free held request slots with the next commit of the reply cache, started at once: it holds every
        entry put before this call (a commit under way may not, so the next one frees them)."""
        if not releases:
            return
        with self._lock:
            self._releases.extend(releases)
        self._start_flush()

    def save(self, annotation: Annotation) -> None:
        """Queue one finished trace's annotation; written with the next batch."""
        with self._lock:
            self._annotations.append(annotation)
            self._oldest = self._oldest or time.monotonic()
            due = (len(self._annotations) >= self.batch or time.monotonic() - self._oldest >= self.max_delay
                   or self._requests_in_flight())
        if due:
            self._start_flush()

    def _requests_in_flight(self) -> bool:
        return self.waiting is not None and self.waiting()

    def _start_flush(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self.write(self._flush))
            self._flushing.add_done_callback(self._flushed)

    def _flushed(self, done: asyncio.Future[None]) -> None:
        """What finished during a commit made while requests were in flight goes in the next one at once
        (not after a failed commit: its error is raised when the run closes)."""
        if done.cancelled() or done.exception() is not None:
            return
        with self._lock:
            pending = bool(self._annotations) and self._requests_in_flight()
            pending = pending or bool(self._releases)
        if pending:
            self._start_flush()

    def _flush(self) -> None:
        with self._lock:
            cache, self._cache = self._cache, {}
            annotations, self._annotations = self._annotations, []
            releases, self._releases = self._releases, []
            self._oldest = None
        wrote = bool(cache or annotations)
        try:
            try:
                if cache:
                    with self.store.conn:
                        self.store.conn.execute(self.store.dialect.begin_write)
                        for key, value in cache.items():
                            self.store.cache_put(key, value)
                    cache = {}
            finally:  # stored, or failed and kept for the next commit: the held slots are free either way
                for release in releases:
                    release.set()
            if annotations:
                if self.lease_worker is not None:
                    self.store.save_annotations(annotations, lease_worker=self.lease_worker)
                else:
                    self.store.save_annotations(annotations)
        except BaseException:
            # nothing is dropped: what this commit failed to write goes back, ahead of what came since, and
            # the next commit (at the latest the run's last, whose error the run raises) tries it again
            with self._lock:
                self._cache = {**cache, **self._cache}
                self._annotations[:0] = annotations
                self._oldest = self._oldest or time.monotonic()
                self.failed_flushes += 1
            raise
        if wrote:
            self.flushes += 1

    async def tick(self, every: float | None = None) -> None:
        """Flush on a timer, so a slow run still writes what finished (cancel it when the run ends)."""
        while True:
            await asyncio.sleep(every or self.max_delay)
            if self._oldest is not None:
                self._start_flush()

    async def close(self) -> None:
        """Write everything still buffered, then stop the helper thread."""
        try:
            if self._flushing is not None:  # let it end; a failed one put its writes back for this last commit
                await asyncio.wait([self._flushing])
            await self.run(self._flush)
        finally:
            self._executor.shutdown(wait=True)

    def close_sync(self) -> None:
        """Flush from outside the loop (after a cancelled run); safe to call twice."""
        self._flush()
        self._executor.shutdown(wait=True)
