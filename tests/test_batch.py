"""`annotate --batch` against a real Batch API on 127.0.0.1 (tests/fake_batch_api.py): every line matched to
its trace, verdicts as the synchronous judge gives them, the batch price on the ledger, expired and failed
lines retried, and a killed run resumed without a second submission."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fake_batch_api import FakeBatchAPI
from fake_openai import FakeOpenAI, error, good, reply, user_text
from judge_helpers import fill, sample_trace

from mastlens.judges.llm import LLMJudge
from mastlens.judges.llm.batch import BatchAPIError, BatchOptions, annotate_batch
from mastlens.judges.llm.prices import resolve_price
from mastlens.judges.runner import annotate_traces
from mastlens.store import Store
from mastlens.store import batches as records

KEY = "sk-batch-secret-key"
MODEL = "gpt-4.1-mini"
FAST = BatchOptions(poll_first_s=0.01, poll_max_s=0.05)


def _judge(url: str) -> LLMJudge:
    return LLMJudge(MODEL, base_url=url, api_key=KEY, backoff_base=0.0)


def _alert(request) -> int:
    text = user_text(request)
    return int(text.split("Alert ", 1)[1].split(":", 1)[0])


def _statuses(store: Store, set_name: str) -> dict[str, dict[str, str]]:
    return {a.trace_id: {m: v.status.value for m, v in a.verdict.modes.items()}
            for a in store.get_annotations(set_name)}


def test_every_line_comes_back_to_its_trace_at_the_batch_price(tmp_path):
    with FakeBatchAPI(key=KEY) as api, Store(tmp_path / "db.sqlite") as store:
        ids = fill(store, 30)
        summary, report = annotate_batch(store, _judge(api.url), set_name="batch", options=FAST)
        assert (summary.annotated, summary.errors, summary.not_started) == (30, 0, 0)
        assert api.submissions == 1 and api.uploads == 1 and api.sync_calls == 0
        assert report.lines == report.answered == 30 and report.failed == 0
        # the same requests judged synchronously (another store: this one's cache holds the batch's replies)
        with FakeOpenAI(good) as sync, Store(tmp_path / "sync.sqlite") as other:
            fill(other, 30)
            annotate_traces(other, _judge(sync.url), set_name="sync", concurrency=4)
            assert [r["messages"] for r in sorted(sync.requests, key=_alert)] == \
                [json.loads(line)["body"]["messages"] for line in
                 sorted(api.files["file-00001"]["content"].decode().splitlines(),
                        key=lambda line: _alert(json.loads(line)["body"]))]
            sync_statuses = _statuses(other, "sync")
            sync_anns = {a.trace_id: a for a in other.get_annotations("sync")}
        # and a synchronous run into a new set of this store is all cache hits: the requests are the same
        assert annotate_traces(store, _judge("http://127.0.0.1:9/v1"), set_name="again").cache_hits == 30
        assert _statuses(store, "batch") == sync_statuses
        batch = {a.trace_id: a for a in store.get_annotations("batch")}
        price = resolve_price(MODEL)
        for trace_id in ids:
            b, s = batch[trace_id], sync_anns[trace_id]
            assert (b.input_tokens, b.output_tokens) == (s.input_tokens, s.output_tokens) > (0, 0)
            assert b.cost_usd == pytest.approx(s.cost_usd / 2)
            assert b.cost_usd == pytest.approx(price.cost(b.input_tokens, b.output_tokens, batch=True))
        assert summary.cost_usd == pytest.approx(sum(a.cost_usd for a in batch.values()))
        # the job's record: one batch, collected, every line done; the key reaches neither store nor files
        (job,) = records.jobs(store, "batch")
        assert job.status == records.COLLECTED and job.provider_status == "completed"
        assert {ln.state for ln in records.job_lines(store, job.job_id)} == {records.DONE}
        assert KEY not in store.conn.execute("SELECT group_concat(params) FROM annotation_sets").fetchone()[0]
        assert all(KEY.encode() not in f["content"] for f in api.files.values())
        # a rerun finds nothing to do and submits nothing
        again, _ = annotate_batch(store, _judge(api.url), set_name="batch", options=FAST)
        assert again.skipped == 30 and api.submissions == 1


def test_identical_requests_share_one_line_paid_once(tmp_path):
    with FakeBatchAPI() as api, Store(tmp_path / "db.sqlite") as store:
        store.add_trace(sample_trace(1))
        store.add_trace(sample_trace(1).model_copy(update={"id": "twin"}))
        summary, report = annotate_batch(store, _judge(api.url), options=FAST)
        assert summary.annotated == 2 and report.lines == 1 and api.lines_run == 1
        costs = sorted(a.cost_usd for a in store.get_annotations(summary.set))
        assert costs[0] == 0 and costs[1] > 0


def test_an_expired_batch_keeps_what_it_did_and_the_rest_goes_in_a_new_batch(tmp_path):
    seen_when_resubmitted: list[int] = []
    with FakeBatchAPI(expire_after={0: 7}) as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 20)

        def notify(message: str) -> None:  # verdicts are stored as each batch's results arrive
            if "submitted" in message and api.submissions == 2:
                seen_when_resubmitted.append(len(store.annotated_ids("b")))

        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=FAST, notify=notify)
        assert summary.annotated == 20 and api.submissions == 2 and api.sync_calls == 0
        assert seen_when_resubmitted == [7]
        assert (report.lines, report.answered, report.failed) == (33, 20, 13)
        assert summary.calls == 20  # an expired line never ran: not a call
        first, second = records.jobs(store, "b")
        assert (first.provider_status, second.provider_status) == ("expired", "completed")
        expired = [ln for ln in records.job_lines(store, first.job_id) if ln.state == records.FAILED]
        assert len(expired) == 13 and all(ln.error.startswith("batch_expired") for ln in expired)
        assert api.lines_run == 20  # no request ran twice


def test_lines_left_after_the_rounds_are_judged_synchronously_at_the_sync_price(tmp_path):
    with FakeBatchAPI(expire_after={0: 4}) as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 10)
        options = BatchOptions(poll_first_s=0.01, poll_max_s=0.05, rounds=1)
        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=options)
        assert summary.annotated == 10 and api.submissions == 1 and api.sync_calls == 6
        assert report.sync_traces == 6
        price = resolve_price(MODEL)
        anns = store.get_annotations("b")
        by_batch = [a for a in anns if a.verdict.metadata.get("batch")]
        assert len(by_batch) == 4
        for a in anns:
            assert a.cost_usd == pytest.approx(price.cost(a.input_tokens, a.output_tokens,
                                                          batch=a in by_batch))


def test_failed_and_unusable_lines_are_retried_until_verdicts_are_clean(tmp_path):
    def flaky(request, n):
        alert = _alert(request)
        if n < 12 and alert % 3 == 0:
            return error(500, "the model is overloaded")
        if n < 12 and alert % 3 == 1:
            return reply("this is not a verdict", request)
        return good(request, n)

    with FakeBatchAPI(flaky) as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 12)
        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert summary.annotated == 12 and summary.errors == 0
        assert api.submissions == 2 and api.sync_calls == 0
        assert report.failed == 4  # the 500s; the unusable replies were answered, then asked again
        statuses = _statuses(store, "b")
        assert all(len(modes) == 14 for modes in statuses.values())


def test_a_job_whose_batch_id_was_never_recorded_is_found_by_its_metadata(tmp_path):
    """Killed after the provider accepted the batch and before its id was written: the next run adopts the
    batch instead of submitting the same requests again."""
    with FakeBatchAPI() as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 5)
        judge = _judge(api.url)
        judge.bind_store(store)
        from mastlens.judges.llm.batch import _Batcher
        from mastlens.judges.runner import RunSummary

        batcher = _Batcher(store, judge, "b", 1, FAST, RunSummary(set="b"), None, None, lambda m: None)
        ((job, lines, payload),) = batcher.plan(sorted(store.trace_hashes()), 1)
        records.add_job(store, job, lines)
        records.update_job(store, job, input_file_id=batcher.api.upload("x.jsonl", payload))
        batcher.api.create(job.input_file_id, {"mastlens_job": job.job_id})
        assert api.submissions == 1
        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert summary.annotated == 5 and api.submissions == 1 and len(report.resumed) == 1


def test_a_refused_key_is_one_clear_error_and_nothing_is_lost(tmp_path):
    with FakeBatchAPI(key="another-key") as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 3)
        with pytest.raises(BatchAPIError, match="HTTP 401") as caught:
            annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert KEY not in str(caught.value)
        # the job never reached the provider: the next run drops it and plans its traces again
        api.key = KEY
        summary, _ = annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert summary.annotated == 3 and api.submissions == 1


def _cli(db, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mastlens", "annotate", "--batch", "--judge", f"openai:{MODEL}", "--base-url", url,
            "--set", "b", "--json", "--db", str(db), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "MASTLENS_API_KEY": KEY, "MASTLENS_BATCH_POLL": "0.05,0.1"}


def test_killed_batch_run_resumes_the_same_batch(tmp_path):
    db = tmp_path / "kill.db"
    with Store(db) as store:
        fill(store, 40)
    with FakeBatchAPI(key=KEY) as api:
        api.hold = True  # the batch stays in progress until the first run is dead
        proc = subprocess.Popen(_cli(db, api.url), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while api.polls < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert api.submissions == 1 and proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        api.hold = False
        res = subprocess.run(_cli(db, api.url), env=_env(), capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["annotated"] == 40 and summary["errors"] == 0
        assert api.submissions == 1 and api.lines_run == 40 and api.sync_calls == 0
        assert "resumed" in res.stderr and "at the batch price" in res.stderr
    with Store(db) as store:
        rows = store.conn.execute("SELECT COUNT(*), COUNT(DISTINCT trace_id) FROM trace_annotations "
                                  "WHERE set_name = 'b'").fetchone()
        modes = store.conn.execute("SELECT COUNT(*) FROM mode_annotations WHERE set_name = 'b'").fetchone()[0]
        assert tuple(rows) == (40, 40) and modes == 40 * 14


def test_dry_run_with_batch_estimates_the_batch_price(tmp_path):
    db = tmp_path / "dry.db"
    with Store(db) as store:
        fill(store, 4)
    cmd = _cli(db, "http://127.0.0.1:9/v1", "--dry-run")
    batch = json.loads(subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=True).stdout)
    sync = json.loads(subprocess.run([c for c in cmd if c != "--batch"], env=_env(), capture_output=True,
                                     text=True, check=True).stdout)
    assert batch["estimated"]["input_tokens"] == sync["estimated"]["input_tokens"] > 0
    assert batch["estimated"]["cost_usd"] == pytest.approx(sync["estimated"]["cost_usd"] / 2, rel=1e-3)


def test_a_batch_the_provider_no_longer_knows_is_asked_again(tmp_path):
    with FakeBatchAPI() as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 4)
        api.hold = True
        options = BatchOptions(poll_first_s=0.01, poll_max_s=0.05)

        def forget(message: str) -> None:  # the first batch disappears at the provider while it runs
            if "submitted" in message and api.submissions == 1:
                api.batches.clear()
                api.hold = False

        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=options, notify=forget)
        assert summary.annotated == 4 and api.submissions == 2 and report.failed == 4
        first = records.jobs(store, "b")[0]
        assert all("no longer knows" in ln.error for ln in records.job_lines(store, first.job_id))


def test_segmented_traces_and_samples_each_window_and_sample_one_line(tmp_path):
    with FakeBatchAPI() as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 3, n_rounds=8)
        judge = LLMJudge(MODEL, base_url=api.url, api_key=KEY, max_trace_tokens=1500, temperature=0.7)
        windows = len(judge._render(store.get_trace("trace-000")).windows)
        assert windows >= 2
        summary, report = annotate_batch(store, judge, set_name="b", samples=2, options=FAST)
        assert summary.annotated == 3 and api.submissions == 1 and api.sync_calls == 0
        assert report.lines == api.lines_run == 3 * 2 * windows
        for ann in store.get_annotations("b"):
            assert ann.verdict.segmented and ann.verdict.metadata["windows"] == windows
            assert all(m.flip_rate is not None for m in ann.verdict.modes.values())


def test_killed_between_download_and_verdicts_the_next_run_stores_them_from_the_record(tmp_path):
    with FakeBatchAPI() as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 6)
        judge = _judge(api.url)
        judge.bind_store(store)
        from mastlens.judges.llm.batch import BatchReport, _Batcher
        from mastlens.judges.runner import RunSummary

        store.ensure_set("b", judge=judge.name, model=MODEL, prompt_hash=judge.info().prompt_hash,
                         taxonomy_version=judge.info().taxonomy_version)
        batcher = _Batcher(store, judge, "b", 1, FAST, RunSummary(set="b"), BatchReport(), None, lambda m: None)
        ((job, lines, payload),) = batcher.plan(sorted(store.trace_hashes()), 1)
        batcher.submit(job, lines, payload)
        batcher.collect(job, batcher.api.retrieve(job.batch_id))  # replies cached, lines recorded ...
        assert job.status == records.DOWNLOADED and store.annotated_ids("b") == set()  # ... then the kill
        summary, report = annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert summary.annotated == 6 and api.submissions == 1 and api.lines_run == 6 and api.downloads == 1
        price = resolve_price(MODEL)
        for ann in store.get_annotations("b"):
            assert ann.input_tokens > 0
            assert ann.cost_usd == pytest.approx(price.cost(ann.input_tokens, ann.output_tokens, batch=True))


def test_cached_tokens_in_batch_replies_are_priced_at_the_batch_cached_rate(tmp_path):
    def caching(request, n):
        response = good(request, n)
        response.body["usage"]["prompt_tokens_details"] = {"cached_tokens": 2048}
        return response

    with FakeBatchAPI(caching) as api, Store(tmp_path / "db.sqlite") as store:
        fill(store, 3)
        summary, _ = annotate_batch(store, _judge(api.url), set_name="b", options=FAST)
        assert summary.annotated == 3
        price = resolve_price(MODEL)
        (job,) = records.jobs(store, "b")
        assert {ln.cached_tokens for ln in records.job_lines(store, job.job_id)} == {2048}
        for ann in store.get_annotations("b"):
            expected = price.cost(ann.input_tokens, ann.output_tokens, 2048, batch=True)
            assert ann.cost_usd == pytest.approx(expected)
            assert expected < price.cost(ann.input_tokens, ann.output_tokens, batch=True)
