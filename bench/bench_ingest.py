"""`mastlens ingest` of a SWE-bench run folder (231 mini-swe-agent trajectories of the dev set) into a fresh
store: wall time, runs per second, and the share of reading vs storing; the goal is under 10 s.

Reproduce: ``python bench/bench_ingest.py [--folder PATH] [--runs 3] [--profile]``. Each run ingests into a
new temporary SQLite store in-process (the command's code path, without interpreter start-up); the median
of the runs is the figure, all are shown. ``--profile`` prints the top functions of one more run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from mastlens.adapters.loader import FileResult, walk  # noqa: E402
from mastlens.store import Store  # noqa: E402
from mastlens.store.ingest import ingest  # noqa: E402

DEFAULT = REPO.parent / "shared" / "devsets" / "swe_bench" / "gemini-3-pro-mini-swe-agent"
GOAL_S = 10.0


def one_ingest(folder: Path) -> tuple[float, int, int]:
    """(seconds, traces stored, failures) of one ingest into a new store."""
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        start = time.perf_counter()
        report = ingest([folder], store)
        seconds = time.perf_counter() - start
        return seconds, store.count_traces(), len(report.failed)


def read_only(folder: Path) -> float:
    start = time.perf_counter()
    for result in walk([folder]):
        if isinstance(result, FileResult):
            len(result.traces)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"no run folder at {args.folder} (the SWE-bench dev set is in ../shared/devsets)")
    print(f"reproduce: python bench/bench_ingest.py --folder {args.folder} --runs {args.runs}")
    times = []
    for _ in range(args.runs):
        seconds, stored, failed = one_ingest(args.folder)
        times.append(seconds)
    median = statistics.median(times)
    reading = read_only(args.folder)
    print(f"{stored} runs stored, {failed} failures")
    print(f"ingest: median {median:.2f} s of {', '.join(f'{t:.2f}' for t in times)} s -> {stored / median:.0f} runs/s "
          f"(goal < {GOAL_S:.0f} s: {'met' if median < GOAL_S else 'NOT met'})")
    print(f"of which reading the folder (no store): {reading:.2f} s ({reading / median:.0%})")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_ingest(args.folder)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
