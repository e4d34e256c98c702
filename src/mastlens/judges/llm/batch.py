"""``annotate --batch``: the LLM judge's requests through the OpenAI Batch API, at the batch price.

A run renders every trace as the synchronous judge does and writes each window whose reply is not cached
as one line of a JSONL file (``custom_id`` = the request's cache key, so identical requests share a line),
records the job in the store *before* uploading it, uploads the file, creates the batch (24 h window,
the job id in its metadata) and records the provider's batch id. It then polls every open batch with
backoff; when one ends (completed, expired, cancelled or failed) its output and error files are
downloaded, each reply goes into the judge's cache under its ``custom_id``, and every trace whose windows
are all answered gets its verdict stored at once, through the judge's own parse, evidence check and
merge, and priced at the batch rate. An interrupted run leaves its jobs in the store: the next run picks
up the same batches (a job whose batch id was never recorded is found by its metadata) and submits
nothing for the traces they carry. Lines that failed or expired go into a new batch (``rounds``), and what
is left after that is judged synchronously (the windows the batches did answer are cache hits).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mastlens.judges.consensus import merge_samples
from mastlens.judges.llm.batch_api import CHAT_ENDPOINT, BatchAPI, BatchAPIError, batch_failure, result_fate
from mastlens.judges.llm.client import endpoint_host
from mastlens.judges.offload import InlineWork
from mastlens.judges.runner import ProgressCallback, RunProgress, RunSummary, annotate_traces, check_set_matches
from mastlens.store import Store
from mastlens.store import batches as records
from mastlens.trace import Annotation, AnnotationStatus

ENDED = ("completed", "expired", "cancelled", "failed")  # a batch in one of these states changes no more
MAX_LINES = 50_000  # requests per batch the OpenAI Batch API accepts
MAX_BYTES = 190 * 1024 * 1024  # under its 200 MB input file limit

__all__ = ["BatchAPIError", "BatchOptions", "BatchReport", "annotate_batch", "batch_dry_run"]


@dataclass
class BatchOptions:
    poll_first_s: float = 10.0  # first wait between polls; it grows by ``poll_factor`` up to ``poll_max_s``
    poll_max_s: float = 300.0
    poll_factor: float = 1.5
    rounds: int = 2  # batch rounds in one run: the first, and one for the lines that failed or expired
    retry_sync: bool = True  # what is left after the rounds is judged synchronously
    concurrency: int = 8  # of the synchronous retries
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES

    @classmethod
    def from_env(cls, **given: Any) -> BatchOptions:
        """Options with the polling interval from ``MASTLENS_BATCH_POLL`` ("FIRST" or "FIRST,MAX" seconds)."""
        raw = os.environ.get("MASTLENS_BATCH_POLL", "").strip()
        if raw:
            try:
                values = [float(v) for v in raw.split(",")]
            except ValueError:
                raise ValueError(f"MASTLENS_BATCH_POLL={raw!r}: give seconds, e.g. 10 or 10,300") from None
            if not 1 <= len(values) <= 2 or min(values) <= 0:
                raise ValueError(f"MASTLENS_BATCH_POLL={raw!r}: give one or two positive numbers of seconds")
            given.setdefault("poll_first_s", values[0])
            given.setdefault("poll_max_s", max(values))
        return cls(**given)


@dataclass
class BatchReport:
    """What the batches of one run did."""

    submitted: list[str] = field(default_factory=list)  # provider batch ids created by this run
    resumed: list[str] = field(default_factory=list)  # batch ids of an earlier run picked up
    lines: int = 0  # requests collected from batches
    answered: int = 0
    failed: int = 0  # failed, expired or cancelled requests (retried)
    sync_traces: int = 0  # traces finished by the synchronous retry
    batch_usd: float = 0.0


class _Batcher:
    def __init__(self, store: Store, judge: Any, name: str, samples: int, options: BatchOptions,
                 summary: RunSummary, report: BatchReport, progress: ProgressCallback | None,
                 notify: Callable[[str], None]):
        self.store, self.judge, self.name, self.samples = store, judge, name, samples
        self.options, self.summary, self.report = options, summary, report
        self.progress, self.notify = progress, notify
        self.api = BatchAPI(judge.base_url, headers=judge.client.auth_headers(), timeout=judge.timeout,
                            max_retries=judge.max_retries, backoff_base=judge.client.backoff_base,
                            scrub=judge.client.scrub)
        self.hashes = store.trace_hashes()
        self.work = InlineWork(store)
        self.done: set[str] = set()
        self.total = 0

    # -- planning and submitting ----------------------------------------------------------------

    def _format(self) -> Any:
        return self.judge.response_format or self.judge._first_untried()

    def plan(self, trace_ids: list[str], round_no: int) -> list[tuple[records.BatchJob, list[records.BatchLine], bytes]]:
        """Jobs for the windows of ``trace_ids`` with no cached reply; traces with every window cached are
        finished at once."""
        bodies: dict[str, bytes] = {}
        rows: dict[str, list[tuple[str, int, int]]] = {}
        complete: list[str] = []
        for trace in self.store.iter_traces(trace_ids):
            missing = False
            for sample in range(self.samples):
                _, looked, _ = self.judge._prepare(trace, sample, self.work)
                for index, (fmt, messages, key, hit) in enumerate(looked):
                    if hit is not None:
                        continue
                    missing = True
                    custom_id = key.split(":", 1)[1]
                    if custom_id not in bodies:
                        body = self.judge.client.request_body(
                            messages, fmt=fmt, schema=self.judge._schema, temperature=self.judge.temperature,
                            max_tokens=self.judge.max_output_tokens)
                        line = {"custom_id": custom_id, "method": "POST", "url": CHAT_ENDPOINT, "body": body}
                        bodies[custom_id] = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
                    rows.setdefault(custom_id, []).append((trace.id, sample, index))
            if not missing:
                complete.append(trace.id)
        if complete:
            self.finish(complete)
        planned, chunk, size = [], [], 0
        for custom_id, line in bodies.items():
            if chunk and (len(chunk) >= self.options.max_lines or size + len(line) > self.options.max_bytes):
                planned.append(self._job(chunk, rows, bodies, round_no))
                chunk, size = [], 0
            chunk.append(custom_id)
            size += len(line)
        if chunk:
            planned.append(self._job(chunk, rows, bodies, round_no))
        return planned

    def _job(self, custom_ids: list[str], rows: dict[str, list[tuple[str, int, int]]], bodies: dict[str, bytes],
             round_no: int) -> tuple[records.BatchJob, list[records.BatchLine], bytes]:
        job = records.BatchJob(job_id=uuid.uuid4().hex, set_name=self.name,
                               endpoint_host=endpoint_host(self.judge.base_url), round=round_no, lines=len(custom_ids))
        lines = [records.BatchLine(job.job_id, cid, trace_id, sample, index)
                 for cid in custom_ids for trace_id, sample, index in rows[cid]]
        return job, lines, b"".join(bodies[cid] for cid in custom_ids)

    def submit(self, job: records.BatchJob, lines: list[records.BatchLine], payload: bytes) -> None:
        records.add_job(self.store, job, lines)  # first: a run killed from here on finds the job again
        file_id = self.api.upload(f"mastlens-{job.job_id}.jsonl", payload)
        records.update_job(self.store, job, input_file_id=file_id)
        batch = self.api.create(file_id, {"mastlens_job": job.job_id})
        records.update_job(self.store, job, batch_id=str(batch["id"]), status=records.SUBMITTED,
                           provider_status=batch.get("status"))
        self.report.submitted.append(job.batch_id or "")
        self.notify(f"batch {job.batch_id}: submitted, {job.lines} requests")

    def reconcile(self) -> list[records.BatchJob]:
        """The set's open jobs from earlier runs, each with its batch id (a job that never reached the
        provider is dropped: its traces are planned again)."""
        open_jobs = []
        for job in records.jobs(self.store, self.name, open_only=True):
            if job.batch_id is None:
                found = self.api.find("mastlens_job", job.job_id) if job.input_file_id else None
                if found is None:
                    records.delete_job(self.store, job.job_id)
                    continue
                records.update_job(self.store, job, batch_id=str(found["id"]), status=records.SUBMITTED,
                                   provider_status=found.get("status"))
            self.report.resumed.append(job.batch_id or "")
            self.notify(f"batch {job.batch_id}: resumed from an earlier run ({job.status})")
            open_jobs.append(job)
        return open_jobs

    # -- polling and collecting -----------------------------------------------------------------

    def wait(self, open_jobs: list[records.BatchJob]) -> None:
        """Poll until every job is collected, waiting longer between polls while nothing ends."""
        delay = self.options.poll_first_s
        while open_jobs:
            for job in list(open_jobs):
                if job.status == records.SUBMITTED:
                    batch = self._retrieve(job)
                    status = str(batch.get("status"))
                    if status != job.provider_status:
                        counts = batch.get("request_counts") or {}
                        self.notify(f"batch {job.batch_id}: {status} "
                                    f"({counts.get('completed', 0)}/{counts.get('total', job.lines)} done)")
                        records.update_job(self.store, job, provider_status=status)
                    if status in ENDED:
                        self.collect(job, batch)
                if job.status == records.DOWNLOADED:
                    self.finish(sorted({line.trace_id for line in records.job_lines(self.store, job.job_id)}))
                    records.update_job(self.store, job, status=records.COLLECTED)
                    open_jobs.remove(job)
                    delay = self.options.poll_first_s
            if open_jobs:
                time.sleep(delay)
                delay = min(delay * self.options.poll_factor, self.options.poll_max_s)

    def _retrieve(self, job: records.BatchJob) -> dict[str, Any]:
        """The batch as the provider describes it; one it no longer knows (deleted, another account's)
        counts as failed, so its lines are asked again rather than waited for forever."""
        try:
            return self.api.retrieve(job.batch_id or "")
        except BatchAPIError as exc:
            if exc.status != 404:
                raise
            return {"id": job.batch_id, "status": "failed",
                    "errors": {"data": [{"message": f"the provider no longer knows batch {job.batch_id}"}]}}

    def collect(self, job: records.BatchJob, batch: dict[str, Any]) -> None:
        """Download the ended batch's files; store each line's fate and cache each reply (one transaction)."""
        records.update_job(self.store, job, output_file_id=batch.get("output_file_id"),
                           error_file_id=batch.get("error_file_id"))
        fates: dict[str, tuple[str, str | None, int, int, int]] = {}
        ran: set[str] = set()  # lines the provider ran (an expired or cancelled line never was: not a call)
        cache: list[tuple[str, str]] = []
        fmt = self._format()
        for file_id in (job.output_file_id, job.error_file_id):
            if not file_id:
                continue
            for number, raw in enumerate(self.api.content(file_id).splitlines(), start=1):
                if not raw.strip():
                    continue
                try:
                    item = json.loads(raw)
                    custom_id = str(item["custom_id"])
                except (ValueError, KeyError, TypeError):
                    self.notify(f"batch {job.batch_id}: file {file_id} line {number} is not a result line")
                    continue
                fate, content = result_fate(item)
                fates[custom_id] = fate
                if item.get("response"):
                    ran.add(custom_id)
                if content is not None:
                    cache.append((f"verdict:{custom_id}", json.dumps({"content": content, "format": fmt.value})))
        why_missing = batch_failure(batch) or f"not in the results of the {batch.get('status')} batch"
        lines, first = [], set()
        for line in records.job_lines(self.store, job.job_id):
            state, error, inp, cached, out = fates.get(line.custom_id, (records.FAILED, why_missing, 0, 0, 0))
            if line.custom_id in first:  # a request two traces share is paid once
                inp = cached = out = 0
            first.add(line.custom_id)
            line.state, line.error = state, error
            line.input_tokens, line.cached_tokens, line.output_tokens = inp, cached, out
            lines.append(line)
        records.record_lines(self.store, job, lines, cache)
        answered = sum(1 for f in (fates.get(c) for c in first) if f is not None and f[0] == records.DONE)
        self.report.lines += len(first)
        self.report.answered += answered
        self.report.failed += len(first) - answered
        self.summary.calls += len(ran)
        if cache and self.judge.response_format is None:
            self.judge._remember_format(fmt)

    # -- finishing ------------------------------------------------------------------------------

    def finish(self, trace_ids: list[str]) -> None:
        """Store the verdict of every trace of ``trace_ids`` whose windows all have a usable cached reply."""
        todo = [t for t in trace_ids if t not in self.done]
        if not todo:
            return
        usage = records.usage_by_trace(self.store, self.name, todo)
        annotations = asyncio.run(self._verdicts(todo, usage))
        self.store.save_annotations(annotations)
        for ann in annotations:
            self.done.add(ann.trace_id)
            self.summary.input_tokens += ann.input_tokens
            self.summary.output_tokens += ann.output_tokens
            self.summary.cost_usd += ann.cost_usd
        if self.progress is not None and annotations:
            self.progress(RunProgress(done=len(self.done), total=self.total, annotated=len(self.done), errors=0,
                                      calls=self.summary.calls, cache_hits=self.summary.cache_hits,
                                      cost_usd=self.summary.cost_usd, trace_id=annotations[-1].trace_id, status="ok"))

    async def _verdicts(self, trace_ids: list[str], usage: dict[str, tuple[int, int, int]]) -> list[Annotation]:
        out = []
        for trace in self.store.iter_traces(trace_ids):
            if not all(self.judge._prepare(trace, k, self.work)[2] is not None for k in range(self.samples)):
                continue  # a window unanswered or its reply unusable: retried in the next round
            results = [await self.judge.annotate(trace, sample=k) for k in range(self.samples)]
            verdict = results[0].verdict if self.samples == 1 else merge_samples([r.verdict for r in results])
            verdict.metadata["batch"] = True
            inp, cached, outp = usage.get(trace.id, (0, 0, 0))
            price = self.judge.price
            batch_usd = price.cost(inp, outp, cached, batch=True) if price else 0.0
            trace_hash = self.hashes.get(trace.id) or trace.content_hash()
            key_for = getattr(self.judge, "memo_key_for", None)
            # what the judge itself sent on top of the batch (a follow-up pass), at its own price
            self.summary.calls += sum(r.calls for r in results)
            self.report.batch_usd += batch_usd
            out.append(Annotation(
                trace_id=trace.id, set=self.name, status=AnnotationStatus.OK, verdict=verdict,
                raw_reply=results[0].raw_reply if self.samples == 1 else None,
                input_tokens=inp + sum(r.input_tokens for r in results),
                output_tokens=outp + sum(r.output_tokens for r in results),
                cost_usd=batch_usd + sum(r.cost_usd for r in results), attempts=1, trace_hash=trace_hash,
                memo_key=key_for(trace_hash, self.samples, verdict) if key_for else None,
            ))
            if inp == 0 and outp == 0:
                self.summary.cache_hits += sum(r.cache_hits for r in results)
        return out


def annotate_batch(store: Store, judge: Any, *, trace_ids: list[str] | None = None, set_name: str | None = None,
                   samples: int = 1, replace: bool = False, options: BatchOptions | None = None,
                   progress: ProgressCallback | None = None,
                   notify: Callable[[str], None] = lambda message: None) -> tuple[RunSummary, BatchReport]:
    """Annotate the selected traces (default: every stored trace not yet annotated ok in the set) through
    the provider's batch API; see the module docstring. Raises :class:`BatchAPIError` when the provider
    refuses a batch request (the jobs recorded so far stay, for the next run)."""
    options = options or BatchOptions()
    started = time.monotonic()
    name = set_name or judge.name
    if replace:
        store.delete_set(name)
        records.delete_set_jobs(store, name)
    else:
        check_set_matches(store, judge, name)
    judge.bind_store(store)
    info = judge.info()
    store.ensure_set(name, judge=info.judge, model=info.model, endpoint_host=info.endpoint_host,
                     prompt_hash=info.prompt_hash, taxonomy_version=info.taxonomy_version,
                     params={**info.params, "samples": samples, "batch": True})
    known = store.trace_hashes()
    selected = sorted(known) if trace_ids is None else list(dict.fromkeys(t for t in trace_ids if t in known))
    summary, report = RunSummary(set=name, traces=len(selected)), BatchReport()
    already = store.annotated_ids(name)
    todo = [t for t in selected if t not in already]
    summary.skipped = len(selected) - len(todo)
    run = _Batcher(store, judge, name, samples, options, summary, report, progress, notify)
    run.total = len(todo)
    try:
        run.wait(run.reconcile())
        for round_no in range(1, options.rounds + 1):
            busy = records.in_flight_traces(store, name)
            left = [t for t in todo if t not in run.done and t not in busy]
            if not left:
                break
            planned = run.plan(left, round_no)
            jobs = []
            for job, lines, payload in planned:
                run.submit(job, lines, payload)
                jobs.append(job)
            run.wait(jobs)
        left = [t for t in todo if t not in run.done]
        if left and options.retry_sync:
            notify(f"{len(left)} traces left after {options.rounds} batch rounds: judging them synchronously")
            _retry_sync(store, judge, name, left, samples, options, summary, report)
    finally:
        final_ok, final_err = store.annotated_ids(name), store.annotated_ids(name, status="error")
        chosen = set(selected)
        summary.annotated, summary.errors = len(chosen & final_ok), len(chosen & final_err)
        summary.not_started = summary.traces - summary.annotated - summary.errors
        summary.wall_s = time.monotonic() - started
    return summary, report


def _retry_sync(store: Store, judge: Any, name: str, left: list[str], samples: int, options: BatchOptions,
                summary: RunSummary, report: BatchReport) -> None:
    sync = annotate_traces(store, judge, trace_ids=left, set_name=name, concurrency=options.concurrency,
                           samples=samples)
    for attr in ("calls", "cache_hits", "input_tokens", "output_tokens", "cost_usd"):
        setattr(summary, attr, getattr(summary, attr) + getattr(sync, attr))
    summary.error_reasons.update(sync.error_reasons)
    summary.stopped_reason = sync.stopped_reason
    finished = store.annotated_ids(name) & set(left)
    report.sync_traces = len(finished)
    # the windows the batches answered were cache hits for the retry: their batch spend goes on the ledger
    usage = records.usage_by_trace(store, name, finished)
    price = judge.price
    costs = {t: (i, o, price.cost(i, o, c, batch=True) if price else 0.0) for t, (i, c, o) in usage.items()}
    if costs:
        records.add_cost(store, name, costs)
        for i, o, usd in costs.values():
            summary.input_tokens += i
            summary.output_tokens += o
            summary.cost_usd += usd
            report.batch_usd += usd


def batch_dry_run(summary: RunSummary, judge: Any) -> RunSummary:
    """A dry run's estimates priced at the batch rate (the same requests, sent as batch lines)."""
    factor = judge.price.batch_factor if getattr(judge, "price", None) else 1.0
    for estimate in summary.estimates:
        estimate.cost_usd *= factor
    return summary
