"""The traces of one annotation run, handed out under leases so that many workers share a set's work.

Each ``mastlens annotate`` process is one worker. It offers the traces it would annotate to the set's pool,
then claims a few at a time (:meth:`mastlens.store.Store.claim_work`); its lease on them is renewed while it
runs, and each is marked done in the transaction that stores its verdict. When nothing is free but traces
of its selection are still leased to another worker, it waits: a live worker finishes them, a killed one's
leases expire and this worker takes them over. A run that stops early gives back what it did not start.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import deque
from typing import Any

DEFAULT_LEASE_S = 60.0


def lease_seconds() -> float:
    """How long a claimed trace stays a worker's without renewal (``MASTLENS_LEASE_S``, default 60)."""
    value = os.environ.get("MASTLENS_LEASE_S")
    try:
        return max(0.5, float(value)) if value else DEFAULT_LEASE_S
    except ValueError:
        raise ValueError(f"MASTLENS_LEASE_S={value!r}: expected a number of seconds") from None


def worker_name() -> str:
    """This process as a lease holder: host, pid and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeasedFeed:
    """Trace ids for a run's coroutines, claimed from the store in chunks (``next`` returns None when the
    run's selection is done, by this worker or another). Store calls go through ``write`` (the run's helper
    thread), so they never interleave with its batched writes on the one connection."""

    def __init__(self, store: Any, write: Any, set_name: str, trace_ids: list[str], *, chunk: int,
                 ttl: float | None = None, worker: str | None = None):
        self.store, self.write, self.set_name = store, write, set_name
        self.trace_ids = list(trace_ids)
        self.chunk = max(1, chunk)
        self.ttl = ttl if ttl is not None else lease_seconds()
        self.worker = worker or worker_name()
        self.claimed = 0
        self.recovered = 0  # traces taken over from another worker's expired lease
        self.stopped = False
        self._ready: deque[str] = deque()
        self._lock = asyncio.Lock()

    async def offer(self) -> None:
        await self.write(self.store.offer_work, self.set_name, self.trace_ids)

    async def next(self) -> str | None:
        while not self.stopped:
            if self._ready:
                return self._ready.popleft()
            async with self._lock:
                if self._ready or self.stopped:
                    continue
                if self.claimed == len(self.trace_ids):
                    return None
                ids, recovered = await self.write(self.store.claim_work, self.set_name, self.chunk, self.worker,
                                                  self.ttl)
                if ids:
                    self.claimed += len(ids)
                    self.recovered += recovered
                    self._ready.extend(ids)
                    continue
                pending, next_expiry = await self.write(self.store.pending_work, self.set_name)
                if pending == 0:  # every trace left was done by other workers
                    self.claimed = len(self.trace_ids)
                    return None
                await asyncio.sleep(min(1.0, max(0.05, next_expiry)))
        return None

    async def keep_alive(self) -> None:
        """Renew this worker's leases every third of their length (cancel it when the run ends)."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.write(self.store.renew_leases, self.set_name, self.worker, self.ttl)

    def stop(self) -> None:
        """Hand out nothing more (budget, a refused key, an interruption)."""
        self.stopped = True
        self._ready.clear()

    def release(self) -> int:
        """Give back every trace this worker claimed and did not finish (call after the last write)."""
        return self.store.release_leases(self.set_name, self.worker)
