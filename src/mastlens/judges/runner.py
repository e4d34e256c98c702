"""Annotate many traces with one judge: concurrency, rate limit, resume, budget, samples, progress.

The event loop only sends requests and keeps the tally: reading and decoding stored traces, the judge's
rendering and cache look-ups, and the store's writes run on one helper thread while requests are in flight
(:mod:`mastlens.judges.offload`). Finished traces are written in batches (one transaction per batch: while
requests are in flight as soon as the writer is free, else at least every 0.25 s; and when the run ends or is
interrupted), and a rerun skips what is already annotated ok and retries the errors. The traces are claimed
under leases (:mod:`mastlens.judges.leases`), so several processes annotating one set share its work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mastlens.judges.base import Judge, JudgeError, JudgeResult
from mastlens.judges.consensus import merge_samples
from mastlens.judges.leases import LeasedFeed
from mastlens.judges.limits import CallEstimate, RateLimiter
from mastlens.judges.offload import RunWork
from mastlens.judges.run_sets import SetConflict, _record_set, check_set_matches
from mastlens.store import Store
from mastlens.trace import Annotation, AnnotationStatus, Trace

__all__ = ["CONTRACT_KEYS", "RunProgress", "RunSummary", "SetConflict", "annotate_traces", "annotate_traces_async",
           "check_set_matches"]

CONTRACT_KEYS = (
    "set", "traces", "annotated", "errors", "calls", "cache_hits", "input_tokens", "output_tokens", "cost_usd",
    "wall_s",
)


@dataclass
class TraceEstimate:
    trace_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    segments: int
    cached: bool


@dataclass
class RunSummary:
    """The outcome of one run over the selected traces.

    ``traces`` counts the selected traces; ``annotated``/``errors`` describe where each of them stands in
    the set after the run (earlier ok annotations included); the rest are ``not_started`` (budget or
    interruption). ``calls``, tokens and cost are this run's own.
    """

    set: str
    traces: int = 0
    annotated: int = 0
    errors: int = 0
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    skipped: int = 0
    not_started: int = 0
    budget_stopped: bool = False
    stopped_reason: str | None = None  # the endpoint refused a request in a way every later one would share
    dry_run: bool = False
    leases_recovered: int = 0  # traces this worker took over from another's expired lease
    helper_busy_s: float = 0.0  # time the run's helper thread worked (rendering, decoding, writes)
    error_reasons: dict[str, str] = field(default_factory=dict)
    estimates: list[TraceEstimate] = field(default_factory=list)

    def contract(self) -> dict[str, Any]:
        """Exactly the ``annotate --json`` keys."""
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["wall_s"] = round(self.wall_s, 3)
        return {k: data[k] for k in CONTRACT_KEYS}


@dataclass
class RunProgress:
    """Sent to the progress callback at the start and after every finished trace."""

    done: int
    total: int
    annotated: int
    errors: int
    calls: int
    cache_hits: int
    cost_usd: float
    trace_id: str | None = None
    status: str | None = None


ProgressCallback = Callable[[RunProgress], None]


def _estimate(judge: Judge, trace: Trace) -> CallEstimate:
    estimate = getattr(judge, "estimate", None)
    return estimate(trace) if estimate is not None else CallEstimate()


async def _judge_trace(judge: Judge, trace: Trace, samples: int) -> JudgeResult:
    if samples <= 1 or not getattr(judge, "supports_samples", False):
        return await judge.annotate(trace)
    results: list[JudgeResult] = []
    for k in range(samples):
        results.append(await judge.annotate(trace, sample=k))  # type: ignore[call-arg]
    merged = merge_samples([r.verdict for r in results])
    return JudgeResult(
        verdict=merged,
        input_tokens=sum(r.input_tokens for r in results), output_tokens=sum(r.output_tokens for r in results),
        cost_usd=sum(r.cost_usd for r in results), latency_s=sum(r.latency_s for r in results),
        attempts=sum(r.attempts for r in results), calls=sum(r.calls for r in results),
        cache_hits=sum(r.cache_hits for r in results),
    )


def _load(store: Store, trace_id: str, known_hash: str | None) -> tuple[Trace, str] | None:
    """A stored trace and its content hash (the one stored with it: hashing a big trace again costs)."""
    trace = store.get_trace(trace_id)
    return None if trace is None else (trace, known_hash or trace.content_hash())


def _recall(store: Store, judge: Judge, todo: list[str], hashes: dict[str, str], samples: int,
            set_name: str) -> tuple[set[str], int]:
    """Copy into the set the verdicts other sets hold under the same memo key (the judge's
    ``verdict_memo_key``; see mastlens.judges.llm.memo): the trace ids done and the replies they reused."""
    key_of = getattr(judge, "verdict_memo_key", None)
    if key_of is None:
        return set(), 0
    wanted = {tid: key for tid in todo if hashes.get(tid) and (key := key_of(hashes[tid], samples))}
    return store.copy_remembered(set_name, wanted)


class _Run:
    def __init__(self, store: Store, judge: Judge, summary: RunSummary, *, samples: int, budget: float | None,
                 progress: ProgressCallback | None, total: int, work: RunWork):
        self.store, self.judge, self.summary, self.work = store, judge, summary, work
        self.hashes = store.trace_hashes()
        self.samples, self.budget, self.progress = samples, budget, progress
        self.total = total
        self.done = 0
        self.in_flight_estimate = 0.0
        self.stopped = False
        self.errored: set[str] = set()
        self.annotated_now: set[str] = set()

    def _tick(self, trace_id: str | None, status: str | None) -> None:
        if self.progress is not None:
            s = self.summary
            self.progress(RunProgress(
                done=self.done, total=self.total, annotated=len(self.annotated_now), errors=len(self.errored),
                calls=s.calls, cache_hits=s.cache_hits, cost_usd=s.cost_usd, trace_id=trace_id, status=status,
            ))

    async def _admit(self, trace: Trace) -> CallEstimate | None:
        """The trace's estimate if it may start now; None once the budget would be passed."""
        if self.stopped:
            return None
        if self.budget is None:
            return CallEstimate()
        est = (await self.work.run(_estimate, self.judge, trace)).times(self.samples)
        if self.stopped:
            return None
        if not est.cached:
            if self.summary.cost_usd + self.in_flight_estimate + est.cost_usd > self.budget:
                self.stopped = True
                self.summary.budget_stopped = True
                return None
        return est

    async def worker(self, feed: LeasedFeed) -> None:
        while True:
            trace_id = await feed.next()
            if trace_id is None:
                return
            if self.stopped:
                feed.stop()
                return
            loaded = await self.work.run(_load, self.store, trace_id, self.hashes.get(trace_id))
            if loaded is None:
                continue
            trace, trace_hash = loaded
            est = await self._admit(trace)
            if est is None:
                feed.stop()
                return
            cost_hold = 0.0 if est.cached else est.cost_usd
            self.in_flight_estimate += cost_hold
            try:
                ann = await self._annotate(trace, trace_hash)
            finally:
                self.in_flight_estimate -= cost_hold
            if ann is None:  # held back unsent: the endpoint had refused another request for good
                feed.stop()
                return
            self.work.save(ann)
            self.done += 1
            if ann.status is AnnotationStatus.OK:
                self.annotated_now.add(trace_id)
            else:
                self.errored.add(trace_id)
                self.summary.error_reasons[trace_id] = ann.error or "unknown error"
            self._tick(trace_id, ann.status.value)

    async def _annotate(self, trace: Trace, trace_hash: str) -> Annotation | None:
        s = self.summary
        started = time.monotonic()
        try:
            result = await _judge_trace(self.judge, trace, self.samples)
        except JudgeError as exc:
            if getattr(exc, "unsent", False):
                return None
            if exc.fatal and not self.stopped:
                self.stopped = True  # start nothing more: every later trace would fail the same way
                s.stopped_reason = exc.reason
            calls = getattr(exc, "calls", exc.attempts)
            s.calls += calls
            s.input_tokens += getattr(exc, "input_tokens", 0)
            s.output_tokens += getattr(exc, "output_tokens", 0)
            s.cost_usd += getattr(exc, "cost_usd", 0.0)
            return Annotation(
                trace_id=trace.id, set=s.set, status=AnnotationStatus.ERROR, error=exc.reason,
                raw_reply=exc.raw_reply, attempts=exc.attempts, latency_s=time.monotonic() - started,
                input_tokens=getattr(exc, "input_tokens", 0), output_tokens=getattr(exc, "output_tokens", 0),
                cost_usd=getattr(exc, "cost_usd", 0.0), trace_hash=trace_hash,
            )
        except Exception as exc:  # a judge bug must not lose the rest of the batch
            return Annotation(
                trace_id=trace.id, set=s.set, status=AnnotationStatus.ERROR,
                error=f"judge failed unexpectedly: {type(exc).__name__}: {exc}",
                latency_s=time.monotonic() - started, trace_hash=trace_hash,
            )
        s.calls += result.calls
        s.cache_hits += result.cache_hits
        s.input_tokens += result.input_tokens
        s.output_tokens += result.output_tokens
        s.cost_usd += result.cost_usd
        return Annotation(
            trace_id=trace.id, set=s.set, status=AnnotationStatus.OK, verdict=result.verdict,
            raw_reply=result.raw_reply, input_tokens=result.input_tokens, output_tokens=result.output_tokens,
            cost_usd=result.cost_usd, latency_s=result.latency_s or (time.monotonic() - started),
            attempts=result.attempts, trace_hash=trace_hash,
            memo_key=self._memo_key(trace_hash, result),
        )


    def _memo_key(self, trace_hash: str, result: JudgeResult) -> str | None:
        key_for = getattr(self.judge, "memo_key_for", None)
        return key_for(trace_hash, self.samples, result.verdict) if key_for is not None else None


def _select(store: Store, trace_ids: list[str] | None) -> list[str]:
    if trace_ids is None:
        return sorted(store.trace_hashes())
    known = store.trace_hashes()
    return list(dict.fromkeys(t for t in trace_ids if t in known))


async def annotate_traces_async(
    store: Store, judge: Judge, *, trace_ids: list[str] | None = None, set_name: str | None = None,
    concurrency: int = 8, rpm: float | None = None, budget_usd: float | None = None, samples: int = 1,
    dry_run: bool = False, progress: ProgressCallback | None = None, replace: bool = False,
    lease_s: float | None = None,
) -> RunSummary:
    """The coroutine behind :func:`annotate_traces` (for callers that already run an event loop)."""
    started = time.monotonic()
    name = set_name or judge.name
    if replace and not dry_run:
        store.delete_set(name)
    elif not replace:
        check_set_matches(store, judge, name)
    summary = RunSummary(set=name, dry_run=dry_run)
    selected = _select(store, trace_ids)
    summary.traces = len(selected)
    already_ok = store.annotated_ids(name) if store.get_set(name) is not None else set()
    todo = [t for t in selected if t not in already_ok]
    summary.skipped = len(selected) - len(todo)
    bind = getattr(judge, "bind_store", None)
    if bind is not None:  # the reply cache and the endpoint's known response format (read-only in a dry run)
        bind(store)

    if dry_run:
        for trace in store.iter_traces(todo):
            est = _estimate(judge, trace).times(samples)
            summary.estimates.append(TraceEstimate(
                trace.id, est.input_tokens, est.output_tokens, est.cost_usd, est.segments, est.cached,
            ))
        summary.annotated = summary.skipped
        summary.wall_s = time.monotonic() - started
        return summary

    _record_set(store, judge, name, samples)
    if rpm:
        set_limiter = getattr(judge, "set_rate_limiter", None)
        if set_limiter is not None:
            set_limiter(RateLimiter(rpm))
    work = RunWork(store)
    use_work = getattr(judge, "use_work", None)
    if use_work is not None:  # the judge's rendering, look-ups and cache writes go to the helper thread too
        use_work(work)
    run = _Run(store, judge, summary, samples=samples, budget=budget_usd, progress=progress, total=len(todo),
               work=work)
    recalled, replies = _recall(store, judge, todo, run.hashes, samples, name)
    if recalled:
        summary.cache_hits += replies
        run.done = len(recalled)
        run.annotated_now.update(recalled)
        todo = [t for t in todo if t not in recalled]
    hands = concurrency * (2 if getattr(judge, "set_request_slots", None) is not None and not rpm else 1)
    feed = LeasedFeed(store, work.write, name, todo, chunk=min(hands, 16), ttl=lease_s)
    work.lease_worker = feed.worker
    await feed.offer()
    run._tick(None, None)
    limiter = RateLimiter(rpm) if rpm and not hasattr(judge, "set_rate_limiter") else None
    if limiter is not None:
        original = run._annotate

        async def limited(trace: Trace, trace_hash: str) -> Annotation | None:
            await limiter.acquire()
            return await original(trace, trace_hash)

        run._annotate = limited  # type: ignore[method-assign]
    ticker = asyncio.ensure_future(work.tick())
    renewer = asyncio.ensure_future(feed.keep_alive())
    slots = getattr(judge, "set_request_slots", None)
    try:
        if slots is not None:  # twice as many traces in hand as requests on the wire: see set_request_slots
            slots(concurrency)
        # (hands: with --rpm, no request may wait in the HTTP pool's queue, it would leave later than the
        # limiter said)
        workers = [asyncio.create_task(run.worker(feed)) for _ in range(max(1, min(hands, len(todo) or 1)))]
        await asyncio.gather(*workers)
    finally:
        ticker.cancel()
        renewer.cancel()
        try:
            await work.close()
        except asyncio.CancelledError:  # interrupted: write what finished before leaving
            work.close_sync()
            raise
        finally:
            feed.release()  # what this worker claimed and did not finish goes back to the pool
            summary.leases_recovered = feed.recovered
            if use_work is not None:
                use_work(None)
            if slots is not None:
                slots(None)
        summary.helper_busy_s = work.busy_s
        final_ok = store.annotated_ids(name)
        final_err = store.annotated_ids(name, status="error")
        chosen = set(selected)
        summary.annotated = len(chosen & final_ok)
        summary.errors = len(chosen & final_err)
        summary.not_started = summary.traces - summary.annotated - summary.errors
        summary.wall_s = time.monotonic() - started
    return summary


def annotate_traces(store: Store, judge: Judge, **kwargs: Any) -> RunSummary:
    """Annotate the selected traces (default: every stored trace not yet annotated ok in the set).

    Keyword arguments: ``trace_ids``, ``set_name`` (default the judge name), ``concurrency`` (8), ``rpm``,
    ``budget_usd``, ``samples`` (1), ``dry_run``, ``progress``, ``replace`` (drop the set's annotations
    first), ``lease_s`` (how long a claimed trace stays this worker's without renewal; default
    ``MASTLENS_LEASE_S`` or 60). Several processes may run it on one set at once: each trace is judged once. Returns a :class:`RunSummary`; raises :class:`SetConflict` when the set was written by another
    judge configuration and ``replace`` is not set.
    """
    async def main() -> RunSummary:
        try:
            return await annotate_traces_async(store, judge, **kwargs)
        finally:
            await judge.aclose()

    return asyncio.run(main())
