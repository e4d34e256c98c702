"""Leased work: several real `mastlens annotate` processes on one store (SQLite file or PostgreSQL server)
against a real local endpoint share the set's traces, each judged once; a worker killed with SIGKILL costs at
most its requests on the wire, and its leased traces are judged by the others once its leases expire."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

from fake_openai import FakeOpenAI, user_text
from judge_helpers import fill

from mastlens.store import Store

SET = "openai:gpt-4.1-mini"


def _annotate_cmd(url: str, location: str, concurrency: int) -> list[str]:
    return [sys.executable, "-c", "from mastlens.cli.app import main; main()", "annotate", "--judge", SET,
            "--base-url", url, "--concurrency", str(concurrency), "--json", "--db", location]


def _env(lease_s: float = 60.0) -> dict[str, str]:
    return {**os.environ, "MASTLENS_API_KEY": "sk-test", "MASTLENS_LEASE_S": str(lease_s)}


def _per_trace(srv: FakeOpenAI) -> Counter[str]:
    """How many requests the endpoint received for each trace (its alert number is in the user message)."""
    return Counter(m for r in srv.requests for m in re.findall(r"Alert (\d+):", user_text(r)))


def _stored(location: str) -> tuple[int, int]:
    with Store(location) as s:
        n = s.conn.execute("SELECT COUNT(*) FROM trace_annotations WHERE set_name = ?", (SET,)).fetchone()[0]
        modes = s.conn.execute("SELECT COUNT(*) FROM mode_annotations WHERE set_name = ?", (SET,)).fetchone()[0]
    return n, modes


def _wait_for(location: str, at_least: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with Store(location) as watch:
        while len(watch.annotated_ids(SET)) < at_least and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)


def test_two_workers_on_one_store_judge_every_trace_exactly_once(store, store_location):
    fill(store, 40)
    with FakeOpenAI(latency=0.1) as srv:
        cmd = _annotate_cmd(srv.url, store_location, 4)
        procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        summaries = [json.loads(o[0]) for o in outs]
        per_trace = _per_trace(srv)
    assert len(per_trace) == 40 and set(per_trace.values()) == {1}  # the 942-for-300 case: 40 for 40
    assert srv.calls == 40
    # each worker reports its own calls; they add up to the endpoint's count, and both did a share
    assert sum(s["calls"] + s["cache_hits"] for s in summaries) == 40
    assert all(s["calls"] > 0 for s in summaries)
    assert all(s["annotated"] == 40 and s["errors"] == 0 for s in summaries)
    assert _stored(store_location) == (40, 40 * 14)


def test_a_killed_worker_costs_its_requests_on_the_wire_and_its_leases_go_to_the_others(store, store_location):
    fill(store, 30)
    concurrency = 2
    with FakeOpenAI(latency=0.25) as srv:
        cmd = _annotate_cmd(srv.url, store_location, concurrency)
        victim = subprocess.Popen(cmd, env=_env(lease_s=2), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for(store_location, 4, victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        with Store(store_location) as s:
            held = {r[0] for r in s.conn.execute(
                "SELECT trace_id FROM work_leases WHERE set_name = ? AND done = 0 AND worker != ''", (SET,))}
            done_before = s.annotated_ids(SET)
        assert held, "the killed worker held leases"
        assert 4 <= len(done_before) < 30
        started = time.monotonic()
        survivor = subprocess.run(cmd, env=_env(lease_s=2), capture_output=True, text=True, timeout=120)
        assert survivor.returncode == 0, survivor.stderr
        summary = json.loads(survivor.stdout)
        per_trace = _per_trace(srv)
    assert summary["annotated"] == 30 and summary["errors"] == 0
    assert time.monotonic() - started >= 0.5  # it waited for the dead worker's leases to end, then took them
    assert len(per_trace) == 30
    for trace_id in done_before:  # a stored verdict is never asked for again
        assert per_trace[str(int(trace_id.split("-")[1]))] == 1
    resent = sum(per_trace.values()) - 30
    assert resent <= concurrency, f"{resent} requests re-sent after the kill"
    assert _stored(store_location) == (30, 30 * 14)
