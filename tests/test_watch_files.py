"""`mastlens watch` following files a real writer process appends to, as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mastlens.adapters.loader import read_file
from mastlens.judges.rules import judge_trace
from watch_support import REPO, Watch, read_marks, rollout_lines, run_writer

SHARED = REPO.parent / "shared"
SESSION = "0199cccc-0000-7000-8000-00000000000{}"


def batch_modes(path: Path) -> dict[str, dict[str, str]]:
    return {t.id: {m: v.status.value for m, v in judge_trace(t).modes.items()} for t in read_file(path).traces}


def test_live_rollout_alerts_while_written_and_ends_on_the_batch_verdict(tmp_path):
    runs = tmp_path / "sessions"
    runs.mkdir()
    path = runs / "rollout-2026-08-01T10-00-00-live.jsonl"
    lines = rollout_lines(SESSION.format(1))
    watch = Watch(str(runs), "--idle-seconds", "1.5", "--state", str(tmp_path / "state.json"), cwd=tmp_path)
    time.sleep(1.5)  # the watcher is up and watching before the agent starts
    half = len(lines[4]) // 2
    plan = [{"path": str(path), "write": "".join(lines[:3])}, {"sleep": 0.3},
            {"path": str(path), "write": lines[3]},
            {"path": str(path), "write": lines[4][:half]}, {"sleep": 0.4},  # a line split across writes
            {"path": str(path), "write": lines[4][half:]}, {"sleep": 0.3},
            {"path": str(path), "replace": "".join(lines[:5])}, {"sleep": 0.5},  # replaced (same content)
            {"path": str(path), "write": lines[5]}, {"sleep": 0.3},
            {"path": str(path), "write": lines[6], "mark": "second_failure"}, {"sleep": 0.4},
            {"path": str(path), "write": lines[7]}, {"sleep": 0.3},
            {"path": str(path), "write": lines[8], "mark": "third_failure"}, {"sleep": 1.2},
            {"path": str(path), "write": "".join(lines[9:11])}, {"sleep": 0.3},
            {"path": str(path), "write": lines[11], "mark": "final"}]
    writer, marks_file = run_writer(tmp_path, plan)
    try:
        loop = watch.wait_for(lambda e: e["event"] == "alert" and e["mode"] == "FM-1.3")
        end = watch.wait_for(lambda e: e["event"] == "run_end", timeout=30)
        assert writer.wait(timeout=10) == 0
    finally:
        watch.stop()
    marks = read_marks(marks_file)
    expected = batch_modes(path)[SESSION.format(1)]
    # the loop alert comes within 1 s of the failing call that completes the batch judge's pattern
    first_complete = marks["second_failure"] if loop["step"] <= 6 else marks["third_failure"]
    assert 0 <= loop["_arrived"] - first_complete < 1.0, loop
    alerts = watch.alerts()
    assert [a["mode"] for a in alerts] == ["FM-1.3", "FM-3.2"], alerts  # nothing else, each once
    unverified = alerts[1]
    assert unverified["_arrived"] >= marks["final"] and unverified["step"] == 10
    assert {"time", "run", "source", "mode", "step", "evidence", "reason", "action"} <= set(unverified)
    assert end["modes"] == expected and end["steps"] == 11
    assert sorted(end["present"]) == ["FM-1.3", "FM-3.2"]
    assert any("replaced" in line for line in watch.stderr), watch.stderr  # it said it started over


def test_hundred_rollouts_growing_at_once(tmp_path):
    runs = tmp_path / "sessions"
    runs.mkdir()
    n = 100
    per_run = [rollout_lines(f"0199dddd-0000-7000-8000-{i:012d}") for i in range(n)]
    watch = Watch(str(runs), "--idle-seconds", "2", "--state", str(tmp_path / "state.json"), cwd=tmp_path)
    time.sleep(1.5)
    plan = []
    for line_no in range(len(per_run[0])):  # line by line, every run in turn
        for i in range(n):
            plan.append({"path": str(runs / f"rollout-{i:03d}.jsonl"), "write": per_run[i][line_no]})
        plan.append({"sleep": 0.05})
    writer, _ = run_writer(tmp_path, plan)
    try:
        assert writer.wait(timeout=60) == 0
        deadline = time.time() + 60
        while sum(e["event"] == "run_end" for e in watch.events) < n and time.time() < deadline:
            watch.settle(0.5)
    finally:
        watch.stop()
    ends = [e for e in watch.events if e["event"] == "run_end"]
    assert len(ends) == n, watch.stderr[-5:]
    for i in range(n):
        run = f"0199dddd-0000-7000-8000-{i:012d}"
        events = [e for e in watch.events if e.get("run") == run]
        assert [(e["event"], e.get("mode")) for e in events] == \
            [("alert", "FM-1.3"), ("alert", "FM-3.2"), ("run_end", None)], (run, events)


def test_kill_pid_stops_the_agent_when_its_loop_fires_and_not_before(tmp_path):
    runs = tmp_path / "sessions"
    runs.mkdir()
    path = runs / "rollout-kill.jsonl"
    lines = rollout_lines(SESSION.format(2), k=6)
    agent = subprocess.Popen(["sleep", "120"])
    watch = Watch(str(runs), "--kill-pid", str(agent.pid), "--kill-on", "FM-1.3,FM-1.5", "--idle-seconds", "30",
                  "--state", str(tmp_path / "state.json"), cwd=tmp_path)
    try:
        time.sleep(1.5)
        path.write_text("".join(lines[:5]))  # one failed call: no loop yet
        watch.settle(1.5)  # whatever the watch says about it
        assert agent.poll() is None
        assert not watch.alerts()
        with open(path, "a") as fh:
            fh.write("".join(lines[5:]))
        alert = watch.wait_for(lambda e: e["event"] == "alert" and e["mode"] == "FM-1.3")
        assert alert["action"] == f"sigterm:{agent.pid}"
        assert agent.wait(timeout=5) == -signal.SIGTERM
        # the notice goes to stderr before the alert to stdout, but each pipe has its own reader thread
        watch.wait_for_stderr(f"SIGTERM to pid {agent.pid}")
    finally:
        watch.stop()
        if agent.poll() is None:
            agent.kill()


def test_restart_after_kill_9_repeats_no_alert_and_misses_no_step(tmp_path):
    runs = tmp_path / "sessions"
    runs.mkdir()
    path = runs / "rollout-restart.jsonl"
    lines = rollout_lines(SESSION.format(3))
    state = tmp_path / "state.json"
    first = Watch(str(runs), "--idle-seconds", "2", "--state", str(state), cwd=tmp_path)
    time.sleep(1.5)
    path.write_text("".join(lines[:8]))  # up to the loop
    first.wait_for(lambda e: e["event"] == "alert" and e["mode"] == "FM-1.3")
    time.sleep(0.3)
    first.stop(kill=True)  # kill -9, mid-run
    with open(path, "a") as fh:  # the agent goes on while nobody watches
        fh.write("".join(lines[8:10]))
        fh.write(lines[10][:40])  # and is cut mid-line
    second = Watch(str(runs), "--idle-seconds", "2", "--state", str(state), cwd=tmp_path)
    try:
        time.sleep(1.0)
        with open(path, "a") as fh:
            fh.write(lines[10][40:] + lines[11])
        end = second.wait_for(lambda e: e["event"] == "run_end", timeout=30)
    finally:
        second.stop()
    assert [a["mode"] for a in first.alerts()] == ["FM-1.3"]
    assert [a["mode"] for a in second.alerts()] == ["FM-3.2"]  # the loop alert is not raised again
    assert end["steps"] == 11 and end["modes"] == batch_modes(path)[SESSION.format(3)]
    saved = json.loads(state.read_text())["files"][str(path.resolve())]
    assert saved["offset"] == path.stat().st_size and saved["lines"] == 12


FIXTURE_FILES = sorted((SHARED / "fixtures" / "codex_rollout_format").glob("*.jsonl")) + \
    sorted((SHARED / "fixtures" / "claude_code").glob("*.jsonl")) + \
    sorted((SHARED / "devsets" / "tau2").glob("*.json"))[:1] + sorted((SHARED / "devsets" / "swe_agent").glob("*.traj"))


@pytest.mark.skipif(not FIXTURE_FILES, reason="shared fixtures/devsets not present")
def test_once_on_real_files_gives_the_batch_verdicts(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-m", "mastlens", "watch", *map(str, FIXTURE_FILES), "--once", "--json",
                          "--state", str(tmp_path / "s.json")], capture_output=True, env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    events = [json.loads(x) for x in out.stdout.splitlines()]
    ends = {(Path(e["source"]).name, e["run"]): e["modes"] for e in events if e["event"] == "run_end"}
    expected = {(p.name, tid): modes for p in FIXTURE_FILES for tid, modes in batch_modes(p).items()}
    assert ends == expected
    for (name, run), modes in expected.items():  # one alert per present mode, no more
        alerted = sorted(e["mode"] for e in events if e["event"] == "alert" and e["run"] == run
                         and Path(e["source"]).name == name)
        assert alerted == sorted(m for m, s in modes.items() if s == "present")


def test_store_on_alert_and_budget(tmp_path):
    """--store ingests and annotates each finished run; --on-alert gets each alert on stdin (a failing command
    is reported and the watch goes on); --budget-steps raises FM-1.5 once."""
    runs = tmp_path / "sessions"
    runs.mkdir()
    for i in range(2):
        (runs / f"rollout-{i}.jsonl").write_text("".join(rollout_lines(SESSION.format(4 + i))))
    got = tmp_path / "got.jsonl"
    hook = f"{sys.executable} -c \"import sys; open({str(got)!r}, 'a').write(sys.stdin.read() + chr(10))\""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    db = tmp_path / "store.db"
    base = [sys.executable, "-m", "mastlens", "watch", str(runs), "--once", "--json", "--db", str(db)]
    out = subprocess.run([*base, "--store", "--on-alert", hook, "--budget-steps", "8"], capture_output=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    events = [json.loads(x) for x in out.stdout.splitlines()]
    alerts = [e for e in events if e["event"] == "alert"]
    assert sorted((e["run"][-1], e["mode"], e["kind"]) for e in alerts) == sorted(
        (str(4 + i), m, k) for i in range(2) for m, k in (("FM-1.5", "budget"), ("FM-1.3", "detector"),
                                                           ("FM-3.2", "detector")))
    assert b"stored 1 trace(s)" in out.stderr
    deadline = time.time() + 20  # the commands run in the background
    while (not got.exists() or len(got.read_text().splitlines()) < len(alerts)) and time.time() < deadline:
        time.sleep(0.1)
    received = [json.loads(x) for x in got.read_text().splitlines()]
    assert sorted((r["run"], r["mode"]) for r in received) == sorted((a["run"], a["mode"]) for a in alerts)
    listed = subprocess.run([sys.executable, "-m", "mastlens", "traces", "--json", "--db", str(db)],
                            capture_output=True, env=env, check=True)
    assert {t["id"] for t in json.loads(listed.stdout)} == {SESSION.format(4), SESSION.format(5)}
    shown = subprocess.run([sys.executable, "-m", "mastlens", "annotations", "--json", "--db", str(db)],
                           capture_output=True, env=env)
    assert shown.returncode == 0 and b"FM-3.2" in shown.stdout
    failing = subprocess.run([*base, "--state", str(tmp_path / "other.json"), "--on-alert", "false"],
                             capture_output=True, env=env, timeout=300, cwd=tmp_path)
    assert failing.returncode == 0 and b"--on-alert command exited 1" in failing.stderr
