"""The live guard's speed: the Claude Code hook per call, per-step processing of one long run, and alert
latency with many runs growing at once.

Reproduce: ``python bench/bench_watch.py [--hook-steps 2000] [--hook-calls 40] [--steps 10000] [--runs 100]
[--rate 20] [--seconds 8] [--cases hook,run,many] [--no-bytecode-cache]``

Case 1, the Claude Code hook: a transcript of ``--hook-steps`` steps (its lines in the shape of the Claude Code
fixture sessions); ``--hook-calls`` rounds, each after one more call and result appended, each hook call a new
process (process start included), the first (cold: the whole transcript read) reported apart: a PreToolUse of a
new call through the light entry the settings run (``python -m mastlens.cli.guard``, what the
``mastlens-guard-hook`` script runs) and through the whole CLI (``mastlens guard claude-code``), and, through the
light entry, a Stop and a PreToolUse of a call made twice in a row just before (on a second transcript): the
two that need the detectors, which the state folder's warm worker (mastlens.guard.hook_worker) runs, and the
same Stop decided in the hook's own process (MASTLENS_GUARD_WORKER=0: the detectors imported per call). Each
case has its own state folder, so its own worker, started by its first call (the cold one). A bare
``python -c pass`` is timed as the floor, and the load average printed (the figures move with it). The hook
processes get a bytecode cache in a temporary folder, as an installed mastlens has its bytecode compiled
(``--no-bytecode-cache``: compiled from source every call where PYTHONDONTWRITEBYTECODE is set).
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
# An installed mastlens has its bytecode compiled (pip does it); the hook processes are given a bytecode cache
# of their own (outside the repository) even where PYTHONDONTWRITEBYTECODE is set, unless --no-bytecode-cache.
HOOK_ENV = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}


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


LIGHT_HOOK = [sys.executable, "-m", "mastlens.cli.guard"]  # what the mastlens-guard-hook script runs
CLI_HOOK = [sys.executable, "-m", "mastlens", "guard", "claude-code"]


def _summary(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):.0f} ms, p99 {pct(ms, 0.99):.0f} ms"


def bench_hook(steps: int, calls: int, bytecode_cache: bool = True) -> None:
    """Each round gives the same PreToolUse (a new call: the quick path) to the light entry and to the whole
    CLI, a Stop and a third identical call (both the full path: the detectors, in the worker) to the light
    entry, and the Stop to the light entry with no worker, then appends the calls; the cases alternate, so
    they share the machine's load."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**HOOK_ENV, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")} if bytecode_cache else ENV
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)  # the cache warmed for the floor
        floor = []
        for _ in range(max(10, calls // 2)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
            floor.append((time.perf_counter() - start) * 1000)
        session = "bench-session"
        transcript, twice = Path(tmp) / "session.jsonl", Path(tmp) / "twice.jsonl"
        for path in (transcript, twice):
            with open(path, "w") as fh:
                fh.write(_cc_line(session, 0, "user", [{"type": "text", "text": "Rename item_* everywhere."}]))
                for i in range(steps // 2):
                    fh.write(_cc_call(session, 1 + 2 * i, i))
        base = {"session_id": session, "transcript_path": str(transcript), "cwd": tmp}
        times: dict[str, list[float]] = {"light": [], "cli": [], "stop": [], "repeat": [], "in-process": []}
        no_worker = {**env, "MASTLENS_GUARD_WORKER": "0"}

        def call(case: str, command: list[str], event: dict) -> None:
            start = time.perf_counter()
            out = subprocess.run([*command, "--state-dir", str(Path(tmp) / case)], input=json.dumps(event).encode(),
                                 capture_output=True, env=no_worker if case == "in-process" else env)
            times[case].append((time.perf_counter() - start) * 1000)
            assert out.returncode == 0, out.stderr

        for k in range(calls):
            new = {**base, "hook_event_name": "PreToolUse", "tool_name": "Bash",
                   "tool_input": {"command": f"grep -n item_{steps + k} src/*.py"}}
            call("light", LIGHT_HOOK, new)
            call("cli", CLI_HOOK, new)
            call("stop", LIGHT_HOOK, {**base, "hook_event_name": "Stop", "stop_hook_active": False})
            call("in-process", LIGHT_HOOK, {**base, "hook_event_name": "Stop", "stop_hook_active": False})
            with open(twice, "a") as fh:  # the same call twice (it succeeded): the next one could be a third
                fh.write(_cc_call(session, 10 * steps + 4 * k, steps + k).replace("toolu_", "toolu_a"))
                fh.write(_cc_call(session, 10 * steps + 4 * k + 2, steps + k).replace("toolu_", "toolu_b"))
            call("repeat", LIGHT_HOOK, {**new, "transcript_path": str(twice)})
            with open(transcript, "a") as fh:
                fh.write(_cc_call(session, 10 * steps + 2 * k, steps + k))
    print(f"guard claude-code hook, {steps}-step transcript, {calls - 1} calls after a cold first one "
          f"({'bytecode cached' if bytecode_cache else 'no bytecode cache: sources compiled every call'}; load "
          f"average {' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    print(f"  bare python -c pass: {_summary(floor)}")
    for case, what in (("light", "light entry (mastlens-guard-hook), PreToolUse, a new call (goal p99 < 150 ms)"),
                       ("cli", "whole CLI (mastlens guard claude-code), the same calls"),
                       ("stop", "light entry, Stop (the detectors judge the stop, in the worker)"),
                       ("repeat", "light entry, PreToolUse, a third identical call in a row (the worker decides)"),
                       ("in-process", "light entry, Stop, no worker (MASTLENS_GUARD_WORKER=0: detectors imported)")):
        print(f"  {what}: cold {times[case][0]:.0f} ms; {_summary(times[case][1:])}")


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
    parser.add_argument("--cases", default="hook,run,many", help="Which cases to run (comma-separated).")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="Hook processes as the environment has them (PYTHONDONTWRITEBYTECODE kept).")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}")
    if "hook" in cases:
        bench_hook(args.hook_steps, args.hook_calls, not args.no_bytecode_cache)
    if "run" in cases:
        bench_one_run(args.steps)
    if "many" in cases:
        bench_many(args.runs, args.rate, args.seconds)


if __name__ == "__main__":
    main()
