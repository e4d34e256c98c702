"""Team scale: one store shared by several annotate workers, on PostgreSQL and on SQLite.

For each backend (a throwaway PostgreSQL cluster started with tests/_postgres.py, or ``--pg URL``; a SQLite
file in a temporary folder):

1. ingest N small generated traces (``--ingest``, default 20,000) as ``mastlens ingest`` stores them
   (``Store.add_trace``, a commit every 256): traces/s;
2. annotate ``--traces`` of them (default 2,000) against the suite's scripted Chat Completions server
   (tests/fake_openai.py, in this process, latency L = 0.5 s) with 1 worker, then with K (``--workers``, 4)
   separate ``mastlens annotate`` processes at concurrency C (16) each: traces/s and the ratio K workers /
   1 worker (goal >= 3.5 at K = 4), requests per trace (duplicates: traces asked twice, must be 0) and
   traces without a verdict (lost, must be 0);
3. the same K workers with one of them killed with SIGKILL once a tenth of the traces are stored (leases of
   ``--lease`` seconds, default 3): the leases it held at the kill, all taken over and finished by the others
   (lease recoveries), requests sent twice (at most the killed worker's C: a reply keeps its request slot until
   it is stored, judges/offload.py), lost (0).

With ``--vectors N`` it also runs bench_parquet.py over N generated vectors (``stats --from`` through DuckDB:
wall time and peak memory; the goal is 10,000,000 in < 30 s and < 2 GB).

Reproduce:  python bench/bench_scale.py [--ingest 20000] [--traces 2000] [--workers 4] [--concurrency 16]
            [--latency 0.5] [--lease 3] [--pg postgresql://USER@HOST:PORT/NAME] [--backends postgresql,sqlite]
            [--vectors 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fake_openai import FakeOpenAI, user_text  # noqa: E402

from mastlens.store import Store  # noqa: E402
from mastlens.store.ingest import INGEST_BATCH  # noqa: E402
from mastlens.trace import Source, Step, StepKind, Trace  # noqa: E402

MODEL = "openai:gpt-4.1-mini"


def small_trace(i: int) -> Trace:
    steps = [
        Step(index=0, kind=StepKind.USER, content=f"Alert {i}: checkout latency is high."),
        Step(index=1, kind=StepKind.TOOL_CALL, agent="sre", tool="shell", arguments={"command": "kubectl get pods"}),
        Step(index=2, kind=StepKind.TOOL_RESULT, agent="sre", tool="shell", content=f"checkout-{i} CrashLoopBackOff"),
        Step(index=3, kind=StepKind.ASSISTANT, agent="sre", content=f"Root cause for alert {i}: a bad ConfigMap."),
    ]
    return Trace(id=f"t-{i:07d}", source=Source(format="native"), model="m", task="Diagnose", steps=steps)


def fresh_store(location: str, n: int) -> float:
    """Store n new traces as ``mastlens ingest`` does (a commit every INGEST_BATCH); returns traces/s."""
    with Store(location) as store:
        started = time.perf_counter()
        for start in range(0, n, INGEST_BATCH):
            with store.transaction():
                for i in range(start, min(n, start + INGEST_BATCH)):
                    store.add_trace(small_trace(i))
        return n / (time.perf_counter() - started)


def worker_cmd(url: str, location: str, concurrency: int, set_name: str) -> list[str]:
    return [sys.executable, "-c", "from mastlens.cli.app import main; main()", "annotate", "--judge", MODEL,
            "--base-url", url, "--concurrency", str(concurrency), "--set", set_name, "--json", "--db", location]


def worker_env(lease: float) -> dict[str, str]:
    return {**os.environ, "MASTLENS_API_KEY": "bench", "MASTLENS_LEASE_S": str(lease),
            "PYTHONPATH": str(REPO / "src")}


def requests_per_trace(srv: FakeOpenAI, since: int) -> Counter[str]:
    return Counter(m for r in srv.requests[since:] for m in re.findall(r"Alert (\d+):", user_text(r)))


def annotate_run(srv: FakeOpenAI, location: str, n: int, workers: int, args: argparse.Namespace, set_name: str,
                 *, kill_one: bool = False) -> dict[str, float]:
    since = srv.calls
    cpu_before = _children_cpu()
    env = worker_env(args.lease)
    cmd = worker_cmd(srv.url, location, args.concurrency, set_name)
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    held = 0
    if kill_one:
        victim = procs[0]
        with Store(location) as watch:
            while victim.poll() is None and len(watch.annotated_ids(set_name)) < n // 10:
                time.sleep(0.05)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            held = watch.conn.execute(
                "SELECT COUNT(*) FROM work_leases WHERE set_name = ? AND done = 0 AND worker LIKE ?",
                (set_name, f"%:{victim.pid}:%")).fetchone()[0]
    for p in procs[1 if kill_one else 0:]:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a worker failed: {err[-2000:]}")
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    per_trace = requests_per_trace(srv, since)
    with Store(location) as store:
        stored = store.annotated_ids(set_name)
        undone = store.conn.execute("SELECT COUNT(*) FROM work_leases WHERE set_name = ? AND done = 0",
                                    (set_name,)).fetchone()[0]
    return {
        "traces/s": n / wall, "wall_s": wall, "cpu_ms_per_trace": 1000 * cpu / n, "twice": sum(1 for c in per_trace.values() if c > 1),
        "resent": sum(per_trace.values()) - len(per_trace), "lost": n - len(stored), "held_at_kill": held,
        "recovered": held if undone == 0 else held - undone,
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of the worker processes waited for so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_backend(name: str, location_for: callable, args: argparse.Namespace, srv: FakeOpenAI) -> list[str]:
    rows = []
    rate = fresh_store(location_for("ingest"), args.ingest)
    rows.append(f"{name:<11} ingest {args.ingest:>7,} traces: {rate:8.0f} traces/s")
    one_loc, many_loc, kill_loc = location_for("one"), location_for("many"), location_for("kill")
    for loc in (one_loc, many_loc, kill_loc):
        fresh_store(loc, args.traces)
    one = annotate_run(srv, one_loc, args.traces, 1, args, "one")
    many = annotate_run(srv, many_loc, args.traces, args.workers, args, "many")
    killed = annotate_run(srv, kill_loc, args.traces, args.workers, args, "kill", kill_one=True)
    ideal = args.concurrency / args.latency
    rows.append(f"{name:<11} annotate {args.traces:,}, 1 worker: {one['traces/s']:6.1f} traces/s "
                f"({one['traces/s'] / ideal:.2f} of C/L; {one['cpu_ms_per_trace']:.1f} ms CPU/trace); duplicates "
                f"{one['twice']}, lost {one['lost']}")
    rows.append(f"{name:<11} annotate {args.traces:,}, {args.workers} workers: {many['traces/s']:6.1f} traces/s = "
                f"{many['traces/s'] / one['traces/s']:.2f}x one worker (goal >= 3.5 at 4; {many['cpu_ms_per_trace']:.1f} ms "
                f"CPU/trace); duplicates "
                f"{many['twice']}, lost {many['lost']}")
    rows.append(f"{name:<11} {args.workers} workers, one SIGKILLed: {killed['traces/s']:6.1f} traces/s; leases held "
                f"at the kill {killed['held_at_kill']}, recovered by the others {killed['recovered']}; requests "
                f"sent twice {killed['resent']} (at most C = {args.concurrency}: on the wire or not yet stored), "
                f"lost {killed['lost']}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", type=int, default=20000)
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--pg", help="a PostgreSQL server to use (default: a throwaway cluster)")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--vectors", type=int, default=0,
                        help="also stats --from over this many generated Parquet vectors (bench_parquet.py; "
                             "the goal is 10,000,000 in < 30 s and < 2 GB)")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows: list[str] = []
    if args.vectors:
        parquet = subprocess.run([sys.executable, str(REPO / "bench" / "bench_parquet.py"), "--traces",
                                  str(args.vectors)], capture_output=True, text=True, check=True)
        rows += [f"Parquet     {line}" for line in parquet.stdout.splitlines() if not line.startswith("load")]
    with FakeOpenAI(latency=args.latency) as srv, tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                rows += bench_backend("SQLite", lambda label: str(Path(tmp) / f"{label}.db"), args, srv)
                continue
            server = None
            if args.pg is None:
                from _postgres import PostgresServer

                server = PostgresServer().start()
            try:
                if server is not None:
                    location_for = lambda label: server.fresh_url()  # noqa: E731
                else:
                    location_for = lambda label: _pg_schema(args.pg, label)  # noqa: E731
                rows += bench_backend("PostgreSQL", location_for, args, srv)
            finally:
                if server is not None:
                    server.stop()
    print("\n".join(rows))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(json.dumps({"args": vars(args)}))


def _pg_schema(url: str, label: str) -> str:
    """A fresh schema on the given server for one part of the benchmark."""
    import psycopg

    schema = f"bench_scale_{label}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


if __name__ == "__main__":
    main()
