"""The live guard's speed: the Claude Code hook per call, per-step processing of one long run, and alert
latency with many runs growing at once.

Reproduce: ``python bench/bench_watch.py [--hook-steps 2000] [--hook-calls 40] [--steps 10000] [--runs 100]
[--rate 20] [--seconds 8]``

Case 1, ``guard claude-code``: a Claude Code transcript of ``--hook-steps`` steps (its lines in the shape of
the Claude Code fixture sessions); ``--hook-calls`` PreToolUse hook calls, each after one more call and result
appended, each a new ``python -m mastlens guard claude-code`` process (process start included), the first
(cold: the whole transcript read) reported apart. A bare ``python -c pass`` is timed as the floor.
Case 2: one Codex rollout of ``--steps`` steps appended line by line at full speed, each line read and judged
(the watch's own path: FollowedFile -> adapter builder -> LiveRun) before the next is written; per-step p50
and p99, and the total against 10 x a run of a tenth as many steps (goal: within 1.2x, linear).
Case 3: ``mastlens watch`` as a subprocess on a folder where ``--runs`` rollouts grow at ``--rate`` steps/s
each; every run loops once; alert latency = the alert line's arrival minus the write of the line that
completes the loop.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from watch_support import Watch, rollout_lines  # noqa: E402

from mastlens.guard.live import LiveRun  # noqa: E402
from mastlens.guard.sources import CodexFeed, FollowedFile  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def _cc_line(session: str, n: int, kind: str, content: list) -> str:
    message = {"role": "assistant" if kind == "assistant" else "user", "content": content}
    if kind == "assistant":
        message["model"] = "claude-opus-4-5-20251101"
    return json.dumps({"uuid": f"u{n}", "parentUuid": f"u{n - 1}", "isSidechain": False, "userType": "external",
                       "cwd": "/work/project", "sessionId": session, "version": "2.0.76", "type": kind,
                       "message": message, "timestamp": f"2026-01-31T11:{n // 3600 % 60:02d}:{n % 60:02d}.000Z"}) + "\n"


def _cc_call(session: str, n: int, i: int) -> str:
    call = {"type": "tool_use", "id": f"toolu_{i}", "name": "Bash", "input": {"command": f"grep -n item_{i} src/*.py"}}
    result = {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"src/app.py:{i}: item_{i} = {i}"}
    return _cc_line(session, n, "assistant", [call]) + _cc_line(session, n + 1, "user", [result])


def bench_hook(steps: int, calls: int) -> None:
    floor = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        transcript, state = Path(tmp) / "session.jsonl", Path(tmp) / "state"
        session = "bench-session"
        with open(transcript, "w") as fh:
            fh.write(_cc_line(session, 0, "user", [{"type": "text", "text": "Rename item_* to entry_* everywhere."}]))
            for i in range(steps // 2):
                fh.write(_cc_call(session, 1 + 2 * i, i))
        times = []
        for k in range(calls):
            event = {"session_id": session, "transcript_path": str(transcript), "cwd": tmp,
                     "hook_event_name": "PreToolUse", "tool_name": "Bash",
                     "tool_input": {"command": f"grep -n item_{steps + k} src/*.py"}}
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "mastlens", "guard", "claude-code", "--state-dir", str(state)],
                                 input=json.dumps(event).encode(), capture_output=True, env=ENV)
            times.append(time.perf_counter() - start)
            assert out.returncode == 0, out.stderr
            with open(transcript, "a") as fh:
                fh.write(_cc_call(session, 10 * steps + 2 * k, steps + k))
    warm = [t * 1000 for t in times[1:]]
    print(f"guard claude-code, {steps}-step transcript: cold first call {times[0] * 1000:.0f} ms; then {len(warm)} "
          f"calls p50 {statistics.median(warm):.0f} ms, p99 {pct(warm, 0.99):.0f} ms (goal p99 < 150 ms); "
          f"bare python -c pass {statistics.median(floor) * 1000:.0f} ms")


def one_run(steps: int) -> tuple[list[float], float]:
    """Per-step processing times of one rollout of about ``steps`` steps, appended at full speed."""
    lines = rollout_lines("bench-run", k=1, finish=False)
    body = [json.loads(x) for x in rollout_lines("bench-run", k=1, finish=False)[3:5]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollout.jsonl"
        path.write_text("".join(lines[:3]))
        follower, feed = FollowedFile(path), CodexFeed(path)
        run = LiveRun("bench-run", str(path))
        times: list[float] = []
        cpu: list[float] = []
        total_start = time.perf_counter()
        with open(path, "a") as fh:
            for i in range(steps // 2):
                for rec in body:  # a call and its output, each with its own command: no loop to find
                    rec = json.loads(json.dumps(rec))
                    payload = rec["payload"]
                    payload["call_id"] = f"call_{i}"
                    if payload["type"] == "function_call":
                        payload["arguments"] = json.dumps({"command": ["bash", "-lc", f"kubectl get pod web-{i}"]})
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    chunk = follower.read_new()
                    for new in feed.feed(chunk.lines, 1).values():
                        run.add(new)
                    times.append(time.perf_counter() - start)
                    cpu.append(time.thread_time() - start_cpu)
        one_run.cpu = cpu  # type: ignore[attr-defined]
        return times, time.perf_counter() - total_start


def bench_one_run(steps: int) -> None:
    times, total = one_run(steps)
    cpu_ms = [t * 1000 for t in one_run.cpu]  # type: ignore[attr-defined]
    small = [one_run(steps // 10)[1] for _ in range(3)]
    ms = [t * 1000 for t in times]
    ratio = total / (10 * statistics.median(small))
    print(f"one run of {len(times)} steps at full speed: per step p50 {statistics.median(ms):.2f} ms, p99 "
          f"{pct(ms, 0.99):.2f} ms (goal < 5 ms), CPU time per step p50 {statistics.median(cpu_ms):.2f} ms, p99 "
          f"{pct(cpu_ms, 0.99):.2f} ms; total {total:.2f} s = {ratio:.2f} x 10 runs of {steps // 10} "
          f"steps (goal <= 1.2)")


def _pair(run: str, i: int, failing: bool) -> list[str]:
    command = "kubectl rollout status deploy/web -n shop" if failing else f"kubectl get pod web-{i} -n shop"
    output = "error: deployment web exceeded its progress deadline\n" if failing else f"web-{i} 1/1 Running\n"
    call = {"timestamp": "2026-08-01T10:00:00.000Z", "type": "response_item", "payload": {
        "type": "function_call", "name": "shell", "call_id": f"{run}-{i}",
        "arguments": json.dumps({"command": ["bash", "-lc", command]})}}
    out = {"timestamp": "2026-08-01T10:00:00.000Z", "type": "response_item", "payload": {
        "type": "function_call_output", "call_id": f"{run}-{i}",
        "output": json.dumps({"output": output, "metadata": {"exit_code": 1 if failing else 0}})}}
    return [json.dumps(call) + "\n", json.dumps(out) + "\n"]


def growing_run(run: str, length: int, loop_at: int) -> list[str]:
    """A rollout of ``length`` lines: distinct calls, three identical failing calls from pair ``loop_at`` on."""
    lines = rollout_lines(run, k=0, finish=False)
    i = 0
    while len(lines) < length:
        lines += _pair(run, i, loop_at <= i < loop_at + 3)
        i += 1
    return lines[:length]


def bench_many(runs: int, rate: float, seconds: float) -> None:
    ticks = int(seconds * rate)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sessions"
        folder.mkdir()
        watch = Watch(str(folder), "--idle-seconds", "60", "--state", str(Path(tmp) / "state.json"), cwd=Path(tmp))
        time.sleep(2)
        per_run = {f"bench-{i:03d}": growing_run(f"bench-{i:03d}", ticks, 5 + i % max(1, ticks // 2 - 12))
                   for i in range(runs)}
        written: dict[tuple[str, int], float] = {}

        def write_all() -> None:
            start = time.time()
            for n in range(ticks):  # every run gets its next line each tick: ``rate`` lines/s per run
                time.sleep(max(0.0, start + n / rate - time.time()))
                for run, lines in per_run.items():
                    with open(folder / f"rollout-{run}.jsonl", "a") as fh:
                        fh.write(lines[n])
                    written[(run, n)] = time.time()

        writer = threading.Thread(target=write_all)
        writer.start()
        writer.join()
        watch.settle(3)
        watch.stop()
        latencies = []
        for alert in watch.alerts():  # step s of a rollout is its line s + 1 (session_meta, turn_context, user)
            if alert["mode"] == "FM-1.3":
                latencies.append((alert["_arrived"] - written[(alert["run"], alert["step"] + 1)]) * 1000)
    print(f"{runs} runs at {rate:g} steps/s each ({runs * rate:.0f} steps/s) for {seconds:g} s: {len(latencies)} of "
          f"{runs} loop alerts; latency p50 {statistics.median(latencies):.0f} ms, p99 {pct(latencies, 0.99):.0f} ms "
          f"(goal p99 < 500 ms)" if latencies else f"{runs} runs: no alert arrived {watch.stderr[-3:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hook-steps", type=int, default=2000)
    parser.add_argument("--hook-calls", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}")
    bench_hook(args.hook_steps, args.hook_calls)
    bench_one_run(args.steps)
    bench_many(args.runs, args.rate, args.seconds)


if __name__ == "__main__":
    main()
