"""Benchmark ``mastlens annotate --batch`` through the CLI against the test suite's Batch API
(``tests/fake_batch_api.py``, real HTTP on 127.0.0.1), on N generated traces (default 1,000):

1. one ``annotate --batch`` of the N traces: annotated, lost (no ok annotation), duplicated (a request
   answered twice, or a trace with more than one annotation row), submissions, wall, and the ledger's cost
   beside the synchronous price of the same tokens (goal: 0 lost, 0 duplicated, one submission, half the price);
2. the same on a fresh store where the first batch expires with a share of its lines done (``--expire``,
   default 0.4): the rest in a second batch, nothing lost or answered twice;
3. kill -9 of a running ``annotate --batch`` while its batch is in progress, then the same command again:
   the same batch resumed, no second submission, 0 lost, 0 duplicated.

Reproduce:  python bench/bench_batch.py [--traces 1000] [--expire 0.4]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fake_batch_api import FakeBatchAPI  # noqa: E402
from judge_helpers import sample_trace  # noqa: E402

from mastlens.judges.llm.prices import resolve_price  # noqa: E402
from mastlens.store import Store  # noqa: E402

MODEL = "gpt-4.1-mini"
KEY = "sk-bench-batch"
SET = "batch"


def _cmd(db: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "mastlens", "annotate", "--batch", "--judge", f"openai:{MODEL}", "--base-url", url,
            "--set", SET, "--json", "--db", str(db)]


def _env() -> dict[str, str]:
    env = dict(os.environ, MASTLENS_API_KEY=KEY, MASTLENS_BATCH_POLL="0.2,1", PYTHONPATH=str(REPO / "src"))
    env.pop("OPENAI_BASE_URL", None)
    return env


def _store(db: Path, n: int) -> None:
    with Store(db) as store:
        for i in range(n):
            store.add_trace(sample_trace(i))


def _tally(db: Path, n: int, api: FakeBatchAPI) -> dict[str, object]:
    """What the store holds for the set, and what the fake answered."""
    with Store(db) as store:
        rows = store.conn.execute("SELECT trace_id, COUNT(*) FROM trace_annotations WHERE set_name = ? AND status = 'ok' "
                                  "GROUP BY trace_id", (SET,)).fetchall()
        anns = store.get_annotations(SET)
    price = resolve_price(MODEL)
    ledger = sum(a.cost_usd for a in anns)
    sync = sum(price.cost(a.input_tokens, a.output_tokens) for a in anns)
    return {"annotated": len(rows), "lost": n - len(rows), "duplicated": sum(c - 1 for _, c in rows)
            + max(0, api.lines_run - n), "submissions": api.submissions, "ledger": ledger, "sync": sync,
            "lines_run": api.lines_run, "sync_calls": api.sync_calls}


def _row(what: str, tally: dict[str, object], wall: float) -> str:
    ratio = tally["ledger"] / tally["sync"] if tally["sync"] else float("nan")
    return (f"| {what} | {tally['annotated']:,} | **{tally['lost']}** | **{tally['duplicated']}** | "
            f"{tally['submissions']} | {tally['lines_run']:,} + {tally['sync_calls']} sync | {wall:.1f} s | "
            f"${tally['ledger']:.4f} = {ratio:.2f} x sync ${tally['sync']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--expire", type=float, default=0.4, help="share of the first batch done before it expires")
    args = parser.parse_args()
    n = args.traces
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for what, expire in (("one run", None), (f"first batch expires at {args.expire:.0%}", int(n * args.expire))):
            db = tmp / f"{len(rows)}.db"
            _store(db, n)
            with FakeBatchAPI(key=KEY, polls_to_finish=2, expire_after=None if expire is None else {0: expire}) as api:
                started = time.perf_counter()
                done = subprocess.run(_cmd(db, api.url), env=_env(), capture_output=True, text=True)
                wall = time.perf_counter() - started
                if done.returncode != 0:
                    raise SystemExit(f"annotate --batch failed ({done.returncode}):\n{done.stderr}")
                rows.append(_row(what, _tally(db, n, api), wall))
        db = tmp / "kill.db"
        _store(db, n)
        with FakeBatchAPI(key=KEY) as api:
            api.hold = True
            started = time.perf_counter()
            proc = subprocess.Popen(_cmd(db, api.url), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while api.polls < 2 and proc.poll() is None:
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            submitted_before = api.submissions
            api.hold = False
            done = subprocess.run(_cmd(db, api.url), env=_env(), capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"resumed annotate --batch failed ({done.returncode}):\n{done.stderr}")
            summary = json.loads(done.stdout)
            rows.append(_row(f"kill -9 in progress ({submitted_before} submitted), rerun", _tally(db, n, api), wall))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {n:,} generated traces, "
          f"the fake Batch API in this process (polls every 0.2-1 s)")
    print()
    print("| run | annotated | lost | duplicated | submissions | requests answered | wall | ledger |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    print()
    print(f"resumed run's summary: {summary['annotated']} annotated, {summary['errors']} errors, {summary['calls']} calls")
    print(f"reproduce: python bench/bench_batch.py --traces {n} --expire {args.expire:g}")


if __name__ == "__main__":
    main()
