"""The annotation runner and the annotate/annotations commands, against a real local endpoint."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from fake_openai import FakeOpenAI, Response, error, quoting_verdict, reply, user_text, verdict
from judge_helpers import fill, judge, sample_trace
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.judges.runner import CONTRACT_KEYS, annotate_traces
from mastlens.store import Store
from mastlens.trace import ModeStatus

SET = "openai:gpt-4.1-mini"


def _faulty(rate: float = 0.3):
    """Fails about ``rate`` of requests, each in one of several ways, chosen by the arrival number."""

    def responder(req, n):
        rng = random.Random(n)
        if rng.random() >= rate:
            return reply(quoting_verdict(req), req)
        kind = rng.choice(["429", "500", "hang", "truncated", "missing", "unknown", "prose", "garbage"])
        body = json.dumps(quoting_verdict(req))
        return {
            "429": lambda: error(429, "rate limited", retry_after=0),
            "500": lambda: error(500, "internal"),
            "hang": lambda: reply(body, req, delay=1.0),
            "truncated": lambda: reply(body[:200], req, finish_reason="length"),
            "missing": lambda: reply(verdict(drop=("FM-1.4",)), req),
            "unknown": lambda: reply(verdict(ids={"FM-2.3": "FM-4.4"}), req),
            "prose": lambda: reply("The agent did fine overall.", req),
            "garbage": lambda: Response(200, raw=b'{"choices": [ {"mess'),
        }[kind]()

    return responder


def test_mixed_faults_leave_no_trace_silently_absent(store):
    ids = fill(store, 40)
    with FakeOpenAI(_faulty(0.3)) as srv:
        # no transport retries, so some traces really do end as errors; the timeout is well under the 1 s
        # hang yet leaves a loaded 2-core machine time to answer the ordinary requests
        summary = annotate_traces(store, judge(srv.url, timeout=0.6, max_retries=0), concurrency=8)
    anns = {a.trace_id: a for a in store.get_annotations(SET)}
    assert set(anns) == set(ids)
    assert summary.annotated + summary.errors == 40 and summary.not_started == 0
    assert summary.errors > 0 and summary.annotated > 0
    assert summary.annotated == sum(a.status.value == "ok" for a in anns.values())
    for a in anns.values():
        if a.status.value == "ok":
            assert len(a.verdict.modes) == 14
            assert all(m.status in (ModeStatus.PRESENT, ModeStatus.ABSENT) for m in a.verdict.modes.values())
        else:
            assert a.error and a.verdict is None
    rows = store.conn.execute(
        "SELECT trace_id, COUNT(*) FROM mode_annotations GROUP BY trace_id").fetchall()
    assert {r[0] for r in rows} == {t for t, a in anns.items() if a.status.value == "ok"}
    assert all(r[1] == 14 for r in rows)
    assert summary.calls == srv.calls  # every request counted, failed ones included
    # the rerun retries exactly the errors and leaves the finished traces alone
    before_ok = {t for t, a in anns.items() if a.status.value == "ok"}
    with FakeOpenAI() as srv2:
        again = annotate_traces(store, judge(srv2.url))
    assert again.annotated == 40 and again.errors == 0 and again.skipped == len(before_ok)
    assert srv2.calls == 40 - len(before_ok)


def test_a_refused_key_stops_the_run_instead_of_failing_every_trace(store):
    fill(store, 20)
    with FakeOpenAI(lambda req, n: error(401, "Incorrect API key provided")) as srv:
        summary = annotate_traces(store, judge(srv.url), concurrency=2)
        assert srv.calls <= 2  # only the requests already on the wire (traces rendered and waiting are held back)
    assert summary.errors == srv.calls and summary.not_started == 20 - srv.calls
    assert "HTTP 401" in summary.stopped_reason
    with FakeOpenAI() as srv:  # with the key fixed, the rerun judges every trace
        again = annotate_traces(store, judge(srv.url))
    assert again.annotated == 20 and again.errors == 0


def test_cache_hits_make_no_calls(store):
    fill(store, 6)
    with FakeOpenAI() as srv:
        first = annotate_traces(store, judge(srv.url))
        second = annotate_traces(store, judge(srv.url), set_name="copy")
        assert srv.calls == 6
    assert first.calls == 6 and first.cache_hits == 0
    assert second.calls == 0 and second.cache_hits == 6 and second.annotated == 6
    assert second.cost_usd == 0 and second.input_tokens == 0
    a = {x.trace_id: x.verdict for x in store.get_annotations(SET)}
    b = {x.trace_id: x.verdict for x in store.get_annotations("copy")}
    assert a == b


def test_resume_skips_annotated_and_changed_traces_are_redone(store):
    fill(store, 3)
    with FakeOpenAI() as srv:
        annotate_traces(store, judge(srv.url))
        again = annotate_traces(store, judge(srv.url))
        assert srv.calls == 3 and again.skipped == 3 and again.calls == 0
        changed = sample_trace(1)
        changed.steps[-1].content += " Confirmed."
        store.add_trace(changed)  # marks its annotation stale
        third = annotate_traces(store, judge(srv.url))
        assert srv.calls == 4 and third.skipped == 2 and third.annotated == 3


def test_budget_stops_new_calls(store):
    fill(store, 10)
    with FakeOpenAI() as srv:
        j = judge(srv.url, price_in=1000.0, price_out=1000.0)
        per_trace = j.estimate(store.get_trace("trace-000")).cost_usd
        budget = 3.5 * per_trace
        summary = annotate_traces(store, j, budget_usd=budget, concurrency=1)
    assert summary.budget_stopped and summary.not_started > 0
    assert summary.annotated >= 3 and summary.annotated + summary.not_started == 10
    assert summary.cost_usd <= budget and srv.calls == summary.annotated
    assert len(store.get_annotations(SET)) == summary.annotated


def test_dry_run_makes_no_call(store):
    fill(store, 4)
    with FakeOpenAI() as srv:
        summary = annotate_traces(store, judge(srv.url), dry_run=True)
    assert srv.calls == 0 and summary.dry_run
    assert len(summary.estimates) == 4 and all(e.input_tokens > 1000 and e.cost_usd > 0 for e in summary.estimates)
    assert store.get_annotations(SET) == []


def test_dry_run_knows_what_the_cache_already_holds(store):
    fill(store, 4)
    with FakeOpenAI() as srv:
        annotate_traces(store, judge(srv.url), trace_ids=["trace-000", "trace-001"])
        plan = annotate_traces(store, judge(srv.url), set_name="copy", dry_run=True)
        assert srv.calls == 2
    cached = {e.trace_id: e for e in plan.estimates}
    assert cached["trace-000"].cached and cached["trace-001"].cached
    assert cached["trace-000"].cost_usd == 0 and not cached["trace-002"].cached and cached["trace-002"].cost_usd > 0


def test_rpm_spaces_request_starts(store):
    fill(store, 4)
    arrivals = []

    def responder(req, n):
        arrivals.append(time.monotonic())
        return reply(quoting_verdict(req), req)

    with FakeOpenAI(responder) as srv:
        summary = annotate_traces(store, judge(srv.url), concurrency=4, rpm=120)  # one start per 0.5 s
    assert summary.annotated == 4 and srv.calls == 4
    # starts 0.5 s apart: the second to the fourth arrival span about 1 s (the first request also sets up
    # the client, so its arrival lags; the margin absorbs a loaded machine's jitter of a request or two);
    # without a limit all four arrive within milliseconds
    assert arrivals[-1] - arrivals[1] >= 0.75, arrivals


def test_samples_take_the_majority_and_store_flip_rate(store):
    fill(store, 1)

    def responder(req, n):  # FM-1.3 present in the first of every three samples, FM-1.5 in two of three
        present = {"FM-1.5": []} if n % 3 else {"FM-1.3": [], "FM-1.5": []}
        if n % 3 == 2:
            present = {}
        return reply(verdict(present), req)

    with FakeOpenAI(responder) as srv:
        summary = annotate_traces(store, judge(srv.url, temperature=0.7), samples=3)
        temps = {r["temperature"] for r in srv.requests}
    assert summary.calls == 3 and temps == {0.7}
    ann = store.get_annotations(SET)[0]
    fm13, fm15, fm21 = (ann.verdict.modes[m] for m in ("FM-1.3", "FM-1.5", "FM-2.1"))
    assert fm13.status is ModeStatus.ABSENT and abs(fm13.flip_rate - 1 / 3) < 1e-9
    assert fm15.status is ModeStatus.PRESENT and abs(fm15.flip_rate - 1 / 3) < 1e-9
    assert fm21.flip_rate == 0
    assert store.get_set(SET).params["samples"] == 3


def _cli(args, env=None):
    return CliRunner().invoke(app, args, env={"MASTLENS_API_KEY": "sk-test", **(env or {})})


def test_cli_json_contract_and_exit_codes(tmp_path):
    db = tmp_path / "cli.db"
    with Store(db) as s:
        fill(s, 3)

    def responder(req, n):
        if "Alert 2:" in user_text(req):
            return reply(verdict(ids={"FM-2.3": "FM-4.4"}), req)
        return reply(quoting_verdict(req), req)

    with FakeOpenAI(responder) as srv:
        res = _cli(["annotate", "--judge", SET, "--base-url", srv.url, "--json", "--db", str(db)])
        data = json.loads(res.stdout)
        assert tuple(data) == CONTRACT_KEYS
        assert data["traces"] == 3 and data["annotated"] == 2 and data["errors"] == 1 and data["set"] == SET
        assert res.exit_code == 1
        ok = _cli(["annotate", "--judge", SET, "--base-url", srv.url, "--json", "--db", str(db), "--set", "clean",
                   "--trace", "trace-000", "--trace", "trace-001"])
        assert ok.exit_code == 0 and json.loads(ok.stdout)["annotated"] == 2
    listing = _cli(["annotations", "--set", SET, "--json", "--db", str(db)])
    assert listing.exit_code == 0
    rows = json.loads(listing.stdout)
    assert [r["trace_id"] for r in rows] == ["trace-000", "trace-001", "trace-002"]
    first = rows[0]
    assert {"trace_id", "set", "status", "modes"} <= set(first) and first["status"] == "ok"
    assert set(first["modes"]) == {f"FM-{c}" for c in
                                  "1.1 1.2 1.3 1.4 1.5 2.1 2.2 2.3 2.4 2.5 2.6 3.1 3.2 3.3".split()}
    assert first["modes"]["FM-1.3"]["status"] == "present"
    assert set(first["modes"]["FM-1.3"]["evidence"][0]) == {"step", "quote", "verified"}
    assert rows[2]["status"] == "error" and rows[2]["modes"] == {}
    latest = _cli(["annotations", "--json", "--db", str(db)])
    assert "using annotation set" in latest.stderr and json.loads(latest.stdout)[0]["set"] == "clean"


def test_cli_dry_run_and_missing_key(tmp_path):
    db = tmp_path / "d.db"
    with Store(db) as s:
        fill(s, 2)
    res = CliRunner().invoke(app, ["annotate", "--judge", SET, "--dry-run", "--json", "--db", str(db)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["dry_run"] and data["to_annotate"] == 2 and data["estimated"]["cost_usd"] > 0
    res = CliRunner().invoke(app, ["annotate", "--judge", SET, "--db", str(db)])
    assert res.exit_code == 2 and "OPENAI_API_KEY" in res.stderr
    res = _cli(["annotate", "--judge", "openai:no-such-model", "--dry-run", "--db", str(db)])
    assert res.exit_code == 0 and "no price known for no-such-model" in res.stderr  # $0 is not "free"
    res = _cli(["annotate", "--judge", "openai:no-such-model", "--budget", "1", "--db", str(db)])
    assert res.exit_code == 2 and "--price-in" in res.stderr
    res = CliRunner().invoke(app, ["annotate", "--judge", "gpt4", "--db", str(db)])
    assert res.exit_code == 2 and "openai:gpt4" in res.stderr


def test_cli_without_judge_or_endpoint_uses_rules_and_says_how_to_use_an_llm(tmp_path):
    db = tmp_path / "r.db"
    with Store(db) as s:
        fill(s, 1)
    res = CliRunner().invoke(app, ["annotate", "--db", str(db)])
    assert "no LLM endpoint configured" in res.stderr and "--judge openai:MODEL" in res.stderr
    # with --json too (on stderr, so stdout stays JSON): a CI job whose key is missing must hear of it
    res = CliRunner().invoke(app, ["annotate", "--db", str(db), "--json", "--set", "ci"])
    assert json.loads(res.stdout)["set"] == "ci" and res.exit_code == 0
    assert res.stderr.count("no LLM endpoint configured") == 1 and len(res.stderr.strip().splitlines()) == 1


def test_killed_run_resumes_with_nothing_lost_or_duplicated(store, store_location):
    """Issue 25.5: a run killed with SIGKILL at C = 4 costs, on resume, at most C requests: verdicts are
    committed as soon as the writer is free, and a reply keeps its request slot until it is stored, so requests
    on the wire plus replies not yet stored never exceed C (tests/test_held_slots.py)."""
    n, concurrency = 60, 4
    fill(store, n)
    with FakeOpenAI(latency=0.25) as srv:
        cmd = [sys.executable, "-c", "from mastlens.cli.app import main; main()", "annotate", "--judge", SET,
               "--base-url", srv.url, "--concurrency", str(concurrency), "--json", "--db", store_location]
        env = {**os.environ, "MASTLENS_API_KEY": "sk-test", "MASTLENS_LEASE_S": "1"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        with Store(store_location) as watch:
            while len(watch.annotated_ids(SET)) < 10 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Store(store_location) as s:
            done_before = s.annotated_ids(SET)
        assert 10 <= len(done_before) < n
        calls_before = srv.calls
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["annotated"] == n and summary["errors"] == 0
        # finished traces were not judged again; the rest were judged or served from the cache
        assert summary["calls"] + summary["cache_hits"] == n - len(done_before)
        assert srv.calls == calls_before + summary["calls"]
        for trace_id in done_before:
            i = int(trace_id.split("-")[1])
            assert sum(f"Alert {i}:" in user_text(r) for r in srv.requests) == 1
        resent = srv.calls - n  # every trace needs one request; the rest were asked twice
        assert resent <= concurrency, f"{resent} requests re-sent on resume"
    with Store(store_location) as s:
        stored = s.conn.execute("SELECT COUNT(*) FROM trace_annotations WHERE set_name=?", (SET,)).fetchone()[0]
        modes = s.conn.execute("SELECT COUNT(*) FROM mode_annotations WHERE set_name=?", (SET,)).fetchone()[0]
    assert stored == n and modes == n * 14


def test_cli_annotates_given_files_after_ingesting_them(tmp_path):
    db = tmp_path / "files.db"
    with Store(db) as s:
        fill(s, 2)  # already stored traces that the file run must leave alone
    traces = [sample_trace(i).model_copy(update={"id": f"file-{i}"}) for i in range(3)]
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(t.model_dump_json() + "\n" for t in traces) + "{not json\n")
    with FakeOpenAI() as srv:
        res = _cli(["annotate", str(path), "--judge", SET, "--base-url", srv.url, "--json", "--db", str(db)])
        assert srv.calls == 3
    data = json.loads(res.stdout)
    assert data["traces"] == 3 and data["annotated"] == 3
    assert res.exit_code == 1 and "traces.jsonl" in res.stderr  # the bad line is reported, the rest judged
    with Store(db) as s:
        assert s.annotated_ids(SET) == {"file-0", "file-1", "file-2"}
