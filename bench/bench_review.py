"""`mastlens review` on a large store: time to first byte of the queue page and of a 3 MB trace page
(goals: under 300 ms and 1 s of server time), and saves per second with two concurrent clients.

The store holds generated traces (default 100,000, small ones plus one 3 MB trace) with a judge set over
all 14 modes. The server is the real command (`mastlens review --sample N`, a child process); times are
measured by the client (TTFB) and by the server's own access log (server time).

    python bench/bench_review.py [--traces 100000] [--saves 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Outcome, Source, Step, \
    StepKind, Trace, Verdict

MODELS = ("gemini-3-flash", "kimi-k2", "gpt-oss-120b", "claude-x")
BIG_ID = "big-3mb-trace"


def _template(rng: random.Random, model: str) -> Trace:
    steps = [Step(index=0, kind=StepKind.USER, content="Find the root cause of the checkout alert.")]
    for k in range(1, rng.randint(6, 30)):
        if k % 2:
            steps.append(Step(index=k, kind=StepKind.TOOL_CALL, tool="shell", arguments={"cmd": f"kubectl get pods #{k}"}))
        else:
            steps.append(Step(index=k, kind=StepKind.TOOL_RESULT, tool="shell",
                              content="\n".join(f"pod-{j} Running {rng.randint(0, 9)}" for j in range(rng.randint(2, 40)))))
    return Trace(id="x", source=Source(format="native", path=f"/bench/{model}.jsonl"), model=model, steps=steps,
                 outcome=Outcome(success=rng.random() < 0.4, success_from="source"))


def build_store(path: Path, n: int, seed: int = 1) -> None:
    """n generated traces and a judge set ``bench`` (rows written in bulk: a judge would take days)."""
    rng = random.Random(seed)
    mode_ids = load_taxonomy().ids
    templates = [_template(rng, MODELS[i % len(MODELS)]) for i in range(64)]
    with Store(path) as store:
        store.ensure_set("bench", judge="openai:bench", model="bench", taxonomy_version=load_taxonomy().version)
        conn = store.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for start in range(0, n, 5000):
                trace_rows, ann_rows, mode_rows = [], [], []
                for i in range(start, min(n, start + 5000)):
                    t = templates[i % len(templates)]
                    trace_id = f"run-{i:06d}"
                    data = t.model_copy(update={"id": trace_id}).model_dump_json()
                    digest = hashlib.sha256(data.encode()).hexdigest()
                    trace_rows.append((trace_id, "native", t.source.path, t.model, len(t.steps), t.n_tool_calls,
                                       int(t.outcome.success), digest, data))
                    ann_rows.append(("bench", trace_id, digest))
                    for m in mode_ids:
                        present = rng.random() < 0.12
                        mode_rows.append(("bench", trace_id, m, "present" if present else "absent",
                                          round(rng.uniform(0.3, 1.0), 2),
                                          json.dumps([{"step": 1, "quote": "kubectl", "verified": present}])
                                          if present else "[]", int(present)))
                conn.executemany("INSERT INTO traces (id, format, source_path, model, n_steps, n_tool_calls, success, "
                                 "hash, data) VALUES (?,?,?,?,?,?,?,?,?)", trace_rows)
                conn.executemany("INSERT INTO trace_annotations (set_name, trace_id, status, trace_hash) "
                                 "VALUES (?, ?, 'ok', ?)", ann_rows)
                conn.executemany("INSERT INTO mode_annotations (set_name, trace_id, mode_id, status, confidence, "
                                 "evidence, has_verified_evidence) VALUES (?,?,?,?,?,?,?)", mode_rows)
        big = _big_trace(rng)
        store.add_trace(big)
        modes = {m: ModeVerdict(id=m, status=ModeStatus.ABSENT, confidence=0.1) for m in mode_ids}
        modes["FM-1.3"] = ModeVerdict(id="FM-1.3", status=ModeStatus.PRESENT, confidence=0.2,
                                      evidence=[Evidence(step=4, quote="pod-17 CrashLoopBackOff", verified=True)])
        store.save_annotation(Annotation(trace_id=BIG_ID, set="bench", status=AnnotationStatus.OK,
                                         verdict=Verdict(modes=modes)))


def _big_trace(rng: random.Random) -> Trace:
    steps = [Step(index=0, kind=StepKind.USER, content="Dump every log line.")]
    for k in range(1, 41):
        if k % 2:
            steps.append(Step(index=k, kind=StepKind.TOOL_CALL, tool="shell", arguments={"cmd": f"kubectl logs #{k}"}))
        else:
            steps.append(Step(index=k, kind=StepKind.TOOL_RESULT, tool="shell", content="\n".join(
                f"pod-{j} {rng.choice(['Running', 'CrashLoopBackOff'])} {'x' * 60}" for j in range(1920))))
    trace = Trace(id=BIG_ID, source=Source(format="native", path="/bench/big.jsonl"), model="gemini-3-flash",
                  steps=steps, outcome=Outcome(success=False, success_from="source"))
    assert len(trace.model_dump_json()) > 3_000_000
    return trace


def ttfb(base: str, path: str, cookie: str) -> float:
    """Seconds from sending the request to the first byte of the response."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port)) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: mastlens_review={cookie}\r\nConnection: close\r\n\r\n"
        start = time.perf_counter()
        sock.sendall(request.encode())
        first = sock.recv(1)
        elapsed = time.perf_counter() - start
        assert first == b"H"
        while sock.recv(1 << 20):
            pass
    return elapsed


def server_times(log: str, method: str, path: str) -> list[float]:
    return [float(ms) / 1000 for ms in re.findall(rf"{method} {re.escape(path)} 200 ([0-9.]+)ms", log)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--saves", type=int, default=100, help="saves per client")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the store in DIR and keep it")
    args = parser.parse_args()
    print(f"reproduce: PYTHONPATH=src python bench/bench_review.py --traces {args.traces} --saves {args.saves}")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-review-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "review.db"
    if not db.exists():
        t0 = time.perf_counter()
        build_store(db, args.traces)
        print(f"store: {args.traces:,} traces + one 3 MB trace, built in {time.perf_counter() - t0:.1f} s")
    log_path = workdir / "server.log"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mastlens.cli.app import main; main()", "review", "--db", str(db), "--set", "bench",
         "--as", "bench", "--sample", str(args.traces + 1), "--strategy", "stratified"],
        stdout=subprocess.PIPE, stderr=log_path.open("w"), text=True, env={**os.environ, "COLUMNS": "400"})
    url = next(line.split(" ", 1)[1].strip() for line in proc.stdout if line.startswith("open http"))
    print(f"server up (queue of {args.traces + 1:,} stored or resumed) in {time.perf_counter() - t0:.1f} s")
    try:
        run(url, db, log_path, args)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(url: str, db: Path, log_path: Path, args: argparse.Namespace) -> None:
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    token = parse_qs(urlsplit(url).query)["token"][0]
    login = httpx.get(f"{base}/?token={token}", follow_redirects=False)
    cookie = login.cookies["mastlens_review"]
    with Store(db) as store:
        big_pos = store.conn.execute("SELECT position FROM review_queue_items WHERE trace_id = ?", (BIG_ID,)).fetchone()[0]
    pages = {"queue page": "/", "queue page, filtered, page 200": "/?mode=FM-1.3&outcome=failure&page=200",
             "3 MB trace page": f"/item/{big_pos}"}
    for label, path in pages.items():
        ttfb(base, path, cookie)  # warm
        client = [ttfb(base, path, cookie) for _ in range(args.repeat)]
        server = server_times(log_path.read_text(), "GET", urlsplit(path).path)[-args.repeat:]
        print(f"{label:34s} TTFB median {1000 * statistics.median(client):7.1f} ms   "
              f"server median {1000 * statistics.median(server):7.1f} ms   ({args.repeat} runs)")
    # Two clients save different traces at once.
    errors: list[str] = []

    def reviewer(offset: int, out: list[float]) -> None:
        with httpx.Client(base_url=base, cookies={"mastlens_review": cookie}, timeout=60) as c:
            forms = []
            for p in range(offset, offset + args.saves):
                html = c.get(f"/item/{p}").text
                forms.append((p, dict(re.findall(r'name="(csrf|trace_hash)" value="([^"]*)"', html))))
            start = time.perf_counter()
            for p, form in forms:
                r = c.post(f"/item/{p}", data={**form, "status:FM-1.3": "present", "status:FM-3.2": "absent",
                                               "note:FM-1.3": f"bench {p}"})
                if r.status_code != 303:
                    errors.append(f"{p}: {r.status_code}")
            out.append(time.perf_counter() - start)

    durations: list[float] = []
    threads = [threading.Thread(target=reviewer, args=(k * args.saves + 1000, durations)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    total = 2 * args.saves
    posts = [float(ms) for ms in re.findall(r"POST /item/\d+ 303 ([0-9.]+)ms", log_path.read_text())]
    print(f"saves, two concurrent clients:     {total / max(durations):7.1f} saves/s ({total} saves; server median "
          f"{statistics.median(posts):.1f} ms each)")
    with Store(db) as store:
        n = store.conn.execute("SELECT COUNT(DISTINCT trace_id) FROM review_decisions WHERE set_name = 'human:bench'"
                               ).fetchone()[0]
    print(f"traces with decisions: {n} (every save kept)")
    ttfb(base, "/agreement", cookie)
    agreement = [ttfb(base, "/agreement", cookie) for _ in range(args.repeat)]
    print(f"{'agreement page':34s} TTFB median {1000 * statistics.median(agreement):7.1f} ms")


if __name__ == "__main__":
    main()
