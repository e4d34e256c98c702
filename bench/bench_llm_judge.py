"""Benchmark: LLM judge throughput in-process against a local endpoint with a fixed latency, then a cached rerun.

Starts the test suite's fake Chat Completions server in its own process (latency L, default 1 s), stores
N generated traces (default 320), annotates them at concurrency C (default 32) and reports traces/s as a
ratio to the ideal C / L, and how long the run's helper thread worked (decoding, rendering, look-ups,
writes). A second run on the same traces into a new set must be served from the cache: zero calls.
The judge's HTTP module is imported before the clock starts, so this is the runner's own overhead; the
same measures through the CLI, start-up included, are in bench_cli.py.

Reproduce:  python bench/bench_llm_judge.py [--traces 320] [--concurrency 32] [--latency 1.0]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_cli import REPO, run_args, scripted_endpoint

sys.path.insert(0, str(REPO / "tests"))

from judge_helpers import sample_trace  # noqa: E402

from mastlens.judges.llm import LLMJudge  # noqa: E402
from mastlens.judges.runner import annotate_traces  # noqa: E402
from mastlens.store import Store  # noqa: E402


def main() -> None:
    args = run_args(__doc__)
    import mastlens.judges.llm.http  # noqa: F401 - see the module docstring
    with scripted_endpoint(args.latency) as url:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            for i in range(args.traces):
                store.add_trace(sample_trace(i))

            def judge() -> LLMJudge:
                return LLMJudge("gpt-4.1-mini", base_url=url, api_key="bench", timeout=60, max_retries=2)

            first = annotate_traces(store, judge(), concurrency=args.concurrency)
            second = annotate_traces(store, judge(), concurrency=args.concurrency, set_name="rerun")

    ideal = args.concurrency / args.latency
    rate = first.annotated / first.wall_s
    per_1000 = second.wall_s / max(second.traces, 1) * 1000
    print(f"first run : {first.annotated}/{first.traces} traces in {first.wall_s:.2f} s, {first.calls} calls, "
          f"{first.errors} errors; helper thread busy {first.helper_busy_s:.2f} s")
    print(f"            {rate:.2f} traces/s vs ideal C/L = {ideal:.2f} -> ratio {rate / ideal:.3f} (goal >= 0.92)")
    print(f"second run: {second.annotated}/{second.traces} traces in {second.wall_s:.2f} s, {second.calls} calls, "
          f"{second.cache_hits} cache hits -> {per_1000:.2f} s per 1,000 traces; helper thread busy "
          f"{second.helper_busy_s:.2f} s (goal: 0 calls, < 1 s per 1,000)")
    print(f"reproduce : python bench/bench_llm_judge.py --traces {args.traces} --concurrency {args.concurrency} "
          f"--latency {args.latency:g}")


if __name__ == "__main__":
    main()
