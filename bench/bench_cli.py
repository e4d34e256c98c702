"""Benchmark through the CLI, as a user runs it: every figure is a ``mastlens`` subprocess, start-up included.

Against the test suite's scripted Chat Completions server (``tests/fake_openai.py``, its own process,
latency L = 1 s), on N generated traces (default 320) and on generated Codex rollouts shaped like the big
real ITBench runs (tests/codex_coding_run.py):

1. ``annotate`` of N traces at concurrency C (default 32), each of ``--first-runs`` times (3) on a fresh
   store: traces/s of the median run as a ratio to the ideal C / L (goal >= 0.92), and where the gap to the
   ideal goes;
2. the cached re-run of 1,000 traces (``--cached-traces``; judged first against a second server with no
   latency) into a new set: zero calls, wall of the whole command per 1,000 traces (goal < 1 s), and
   whether an HTTP client was loaded (it must not be);
3. start-up of a command that needs no LLM (``mastlens traces`` on a small store; goal < 0.3 s), beside the
   bare interpreter's (``python -c pass``) on the same machine at the same moment;
4. the whole request (the judge's system prompt and the user message with the rendered trace, every window) /
   raw bytes of big generated rollouts, every call and agent message kept (goal <= 5%), among them one shaped
   like the real gpt-oss-120b rollout (its instructions twice inside its system step); and
   what the first request of each coding rollout holds (judge prompt, instructions, calls, results, the
   rest) and how much of it is cacheable: the prefix it shares with a sibling run of the same family.

Reproduce:  python bench/bench_cli.py [--traces 320] [--concurrency 32] [--latency 1.0] [--cached-traces 1000] [--first-runs 3]
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from codex_coding_run import write_coding_run, write_oss_coding_run  # noqa: E402
from judge_helpers import sample_trace  # noqa: E402

from mastlens.adapters.loader import read_file  # noqa: E402
from mastlens.judges.llm.prompt import build_messages  # noqa: E402
from mastlens.judges.llm.render import render_trace  # noqa: E402
from mastlens.store import Store  # noqa: E402
from mastlens.taxonomy import load_taxonomy  # noqa: E402
from mastlens.trace import StepKind, Trace  # noqa: E402

MODEL = "openai:gpt-4.1-mini"
CPU: list[float] = []  # CPU seconds of each mastlens subprocess, in order


def _env(db: Path) -> dict[str, str]:
    env = dict(os.environ, MASTLENS_DB=str(db), OPENAI_API_KEY="bench", PYTHONPATH=str(REPO / "src"))
    env.pop("OPENAI_BASE_URL", None)
    return env


def mastlens(args: list[str], db: Path, *, python_flags: tuple[str, ...] = ()) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``python [flags] -m mastlens ARGS``; (wall seconds, completed process). The CPU seconds the
    process used (user + system: what a loaded machine does not inflate much) go to ``CPU[-1]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *python_flags, "-m", "mastlens", *args], env=_env(db),
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        raise SystemExit(f"mastlens {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done


def python_wall(code: str, runs: int = 5) -> tuple[float, float]:
    """Fastest wall and CPU seconds of ``python -c CODE`` over ``runs``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def startup(db: Path, runs: int = 7) -> tuple[float, float, set[str]]:
    """Fastest ``mastlens traces`` wall of ``runs``, its median, and the heavy packages it imported."""
    walls = [mastlens(["traces"], db)[0] for _ in range(runs)]
    cpu = min(CPU[-runs:])
    _, done = mastlens(["traces"], db, python_flags=("-X", "importtime"))
    return min(walls), statistics.median(walls), cpu, _heavy(done.stderr)


def _heavy(importtime: str) -> set[str]:
    names = {line.split("|")[-1].strip() for line in importtime.splitlines() if "|" in line}
    heavy = {n.split(".")[0] for n in names} & {"openai", "pandas", "matplotlib", "scipy", "statsmodels", "numpy", "httpx"}
    return heavy | (names & {"http.client", "mastlens.judges.llm.http"})


_LABEL = re.compile(r"^\[step \d+ \| ([a-z_]+)[^\]]*\]\n", re.MULTILINE)
_PARTS = ("judge prompt", "instructions", "calls", "results", "other")


def composition(trace: Trace, sibling: Trace | None) -> dict[str, int]:
    """Characters of the first request for ``trace`` by part: the judge's own text (system message and the
    user message's frame), the agent's instructions (system steps), calls, results, the rest (requests,
    reasoning, messages, the run's header); ``request``, and ``cacheable``: the prefix it shares with the
    request for ``sibling``, a run of the same family (same instructions), or with the request for any
    other run when there is none."""
    taxonomy = load_taxonomy()

    def request(t: Trace) -> tuple[list[dict[str, str]], str]:
        window = render_trace(t).windows[0]
        return build_messages(window, taxonomy), window.text

    messages, trace_text = request(trace)
    out = dict.fromkeys(_PARTS, 0)
    out["judge prompt"] = len(messages[0]["content"]) + len(messages[1]["content"]) - len(trace_text)
    marks = list(_LABEL.finditer(trace_text))
    out["other"] = marks[0].start() if marks else len(trace_text)  # the run's header before the first step
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(trace_text)
        kind = mark.group(1)
        part = {"system": "instructions", "tool_call": "calls", "tool_result": "results"}.get(kind, "other")
        out[part] += end - mark.start()
    out["request"] = sum(len(m["content"]) for m in messages)
    other_messages, _ = request(sibling if sibling is not None else sample_trace(0))
    flat = messages[0]["content"] + "\x00" + messages[1]["content"]
    other = other_messages[0]["content"] + "\x00" + other_messages[1]["content"]
    out["cacheable"] = len(os.path.commonprefix([flat, other]))
    return out


def prompt_ratios(tmp: Path) -> list[tuple[str, int, int, int, int, int, bool, dict[str, int] | None]]:
    """(shape, raw bytes, rendered trace chars, whole request chars, calls, agent messages, nothing lost,
    composition) for big generated rollouts; the composition for the coding rollouts, each beside a sibling of
    its family."""
    sys.path.insert(0, str(REPO / "examples"))
    from itbench_runs import write_run
    from make_examples import RUNS

    c3 = write_coding_run(tmp / "c3.jsonl", target_bytes=3_000_000, calls=60)
    c1 = write_coding_run(tmp / "c1.jsonl", target_bytes=1_000_000, calls=25)
    oss = write_oss_coding_run(tmp / "oss.jsonl", target_bytes=1_000_000)
    siblings = {
        c3.path: write_coding_run(tmp / "c3b.jsonl", target_bytes=3_000_000, calls=60, seed=7,
                                  instructions=c3.instructions).path,
        c1.path: write_coding_run(tmp / "c1b.jsonl", target_bytes=1_000_000, calls=25, seed=7,
                                  instructions=c1.instructions).path,
        oss.path: write_oss_coding_run(tmp / "ossb.jsonl", target_bytes=1_000_000, seed=7,
                                       instructions=oss.instructions).path,
    }
    rollouts = [("coding 3 MB, 60 calls", c3.path), ("coding 1 MB, 25 calls", c1.path),
                ("gpt-oss-shaped 1 MB, 25 calls, instructions twice in one step", oss.path)]
    shapes = set()
    for i, (folder, model, scenario, run, pattern) in enumerate(RUNS):
        if pattern in ("loop", "task_reissued", "ignored_error") and (folder, pattern) not in shapes:
            shapes.add((folder, pattern))  # one run of each model and pattern
            write_run(tmp / "ex" / str(i), model=model, scenario=scenario, pattern=pattern, seed=i, scale=300)
            rollouts.append((f"{folder} {pattern} x300", next((tmp / "ex" / str(i)).rglob("rollout-*.jsonl"))))
    out = []
    taxonomy = load_taxonomy()
    for shape, path in rollouts:
        trace = read_file(path).traces[0]
        windows = render_trace(trace).windows
        text = "\n".join(w.text for w in windows)
        request = sum(len(m["content"]) for w in windows for m in build_messages(w, taxonomy))
        calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
        said = [s for s in trace.steps if s.kind in (StepKind.ASSISTANT, StepKind.REASONING)]
        kept = all(f"[step {s.index} |" in text for s in calls) and all(s.content in text for s in said)
        parts = composition(trace, read_file(siblings[path]).traces[0]) if path in siblings else None
        out.append((shape, path.stat().st_size, len(text), request, len(calls), len(said), kept, parts))
    return out


def run_args(doc: str) -> argparse.Namespace:
    """--traces N (320), --concurrency C (32), --latency L (1.0): shared with bench_llm_judge.py."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--cached-traces", type=int, default=1000)
    parser.add_argument("--first-runs", type=int, default=3, help="first runs, each on a fresh store (the median is shown)")
    return parser.parse_args()


@contextmanager
def scripted_endpoint(latency: float) -> Iterator[str]:
    """The suite's scripted Chat Completions server in its own process; yields its base URL."""
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--latency", str(latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()


def byte_compile_sources() -> None:
    """Write mastlens's bytecode once, as ``pip install .`` or the first run of an editable install does; with
    PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every timed run would otherwise recompile our modules."""
    compileall.compile_dir(str(REPO / "src"), quiet=1)


def print_composition(ratios: list[tuple]) -> None:
    """The first request of each coding rollout by part, and the prefix a run of its family shares."""
    print("what the first request holds (characters; cacheable = the prefix shared with a sibling run of the same "
          "family, which a provider's prompt cache serves):")
    print()
    print(f"| rollout | {' | '.join(_PARTS)} | request (/ raw) | cacheable |")
    print("|---|" + "---|" * (len(_PARTS) + 2))
    for shape, raw, *_, parts in ratios:
        if parts is None:
            continue
        cells = " | ".join(f"{parts[p]:,}" for p in _PARTS)
        print(f"| {shape} | {cells} | {parts['request']:,} ({parts['request'] / raw:.2%}) | "
              f"**{parts['cacheable']:,}** ({parts['cacheable'] / parts['request']:.0%}) |")


def main() -> None:
    args = run_args(__doc__)
    byte_compile_sources()
    n, c, latency = args.traces, args.concurrency, args.latency

    with scripted_endpoint(latency) as url, scripted_endpoint(0.0) as quick_url:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            dbs = [tmp / f"bench{k}.db" for k in range(args.first_runs)]
            small, cached_db = tmp / "small.db", tmp / "cached.db"
            for path, count in (*((d, n) for d in dbs), (small, 5), (cached_db, args.cached_traces)):
                with Store(path) as store:
                    for i in range(count):
                        store.add_trace(sample_trace(i))
            bare, bare_cpu = python_wall("pass")
            start_min, start_median, start_cpu, start_heavy = startup(small)
            common = ["annotate", "--judge", MODEL, "--base-url", url, "-c", str(c), "--json"]
            firsts = []  # each first run on its own fresh store: nothing cached
            for path in dbs:
                wall, done = mastlens(common, path)
                firsts.append((wall, json.loads(done.stdout), CPU[-1], path))
            firsts.sort(key=lambda f: f[0])
            first_walls = [f[0] for f in firsts]
            first_wall, first, first_cpu, db = firsts[len(firsts) // 2]  # the median
            with Store(db) as store:  # each request's own time, sending to last byte, as the client measured it
                wire = [a.latency_s for a in store.get_annotations(first["set"])]
            quick = ["annotate", "--judge", MODEL, "--base-url", quick_url, "-c", str(c), "--json"]
            mastlens(quick, cached_db)  # every trace judged once: the re-runs below copy its verdicts
            _, done = mastlens([*quick, "--set", "rerun"], cached_db, python_flags=("-X", "importtime"))
            rerun = json.loads(done.stdout)
            rerun_heavy = _heavy(done.stderr)
            rerun_plain = min(mastlens([*quick, "--set", f"rerun{k}"], cached_db)[0] for k in range(3))
            rerun_cpu = min(CPU[-3:])
            big = tmp / "rollouts"
            big.mkdir()
            ratios = prompt_ratios(big)
            one_path = big / "c3.jsonl"
            big_wall, done = mastlens(["annotate", str(one_path), "--judge", MODEL, "--base-url", url, "--json"],
                                      tmp / "big.db")
            big_run = json.loads(done.stdout)

    ideal = c / latency
    rate = first["annotated"] / first_wall
    rounds = math.ceil(n / c) * latency
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; bare `python -c pass` "
          f"{bare * 1000:.0f} ms ({bare_cpu * 1000:.0f} ms CPU); mastlens byte-compiled before timing (as `pip install .` "
          "leaves it)")
    print()
    print("| measure | result | goal |")
    print("|---|---|---|")
    print(f"| `annotate`, {n} traces, C={c}, L={latency:g} s: traces/s vs ideal C/L | {rate:.2f}/{ideal:.0f} = "
          f"**{rate / ideal:.3f}** (median of {len(first_walls)} first runs, {first_wall:.2f} s wall; all: "
          f"{', '.join(f'{w:.2f}' for w in first_walls)} s; {first['calls']} calls, {first['errors']} errors) | >= 0.92 |")
    m = args.cached_traces
    print(f"| cached re-run of {m:,} judged traces (new set) | **{rerun_plain / m * 1000:.2f} s per 1,000** "
          f"({rerun_plain:.2f} s wall, fastest of 3; {rerun['calls']} calls, {rerun['cache_hits']} cache hits; "
          f"heavy imports: {', '.join(sorted(rerun_heavy)) or 'none'}) | < 1 s per 1,000, 0 calls, no HTTP client |")
    print(f"| start-up of `mastlens traces` (5 traces stored) | **{start_min * 1000:.0f} ms** fastest of 7, "
          f"median {start_median * 1000:.0f} ms (heavy imports: {', '.join(sorted(start_heavy)) or 'none'}) | < 300 ms |")
    for shape, raw, chars, request, calls, said, kept, _ in ratios:
        print(f"| whole request / raw, {shape} | **{request / raw:.2%}** ({request:,} of {raw:,} bytes; rendered "
              f"trace {chars / raw:.2%}; {calls} calls, {said} agent messages {'all kept' if kept else 'NOT ALL KEPT'}) "
              "| <= 5% |")
    print()
    print_composition(ratios)
    print()
    run_wall = first["wall_s"]
    mean_wire = statistics.fmean(wire) if wire else float("nan")
    on_wire = math.ceil(n / c) * mean_wire
    print(f"where the first run's {first_wall:.2f} s go (ideal {rounds:.2f} s = {math.ceil(n / c)} rounds of L):")
    print(f"  start-up and exit outside the run      {first_wall - run_wall:6.2f} s  (process wall - the run's wall_s)")
    print(f"  rounds on the wire                     {on_wire:6.2f} s  ({math.ceil(n / c)} x the mean request time "
          f"{mean_wire * 1000:.0f} ms: L + the server's and the HTTP stack's own time)")
    print(f"  the rest inside the run                {run_wall - on_wire:6.2f} s  (first traces rendered before the first "
          "request, replies parsed and verified, last writes)")
    print(f"CPU seconds of the mastlens process (user + system; less inflated by other load than wall time): "
          f"`traces` {start_cpu:.2f} s, first run {first_cpu:.2f} s ({first_cpu / n * 1000:.2f} ms/trace, start-up "
          f"included), cached re-run of {m:,} {rerun_cpu:.2f} s ({rerun_cpu / m * 1000:.2f} ms/trace)")
    print(f"one {ratios[0][1] / 1e6:.1f} MB Codex rollout, ingested and annotated in one command: {big_wall:.2f} s wall "
          f"({big_run['calls']} call of L = {latency:g} s)")
    print()
    print(f"reproduce: python bench/bench_cli.py --traces {n} --concurrency {c} --latency {latency:g} "
          f"--cached-traces {m} --first-runs {args.first_runs}")


if __name__ == "__main__":
    main()
