"""Statistics from an exported Parquet dataset through DuckDB (``stats --from DIR``) on generated failure
vectors (default 1,000,000; the goal is 10,000,000 in < 30 s and < 2 GB): the time to reduce them to distinct
rows with counts (one DuckDB scan), the time of every statistic from those, and the peak memory of the process.

    PYTHONPATH=src python bench/bench_parquet.py [--traces 1000000] [--keep DIR | --reuse DIR]

The vectors are bench_stats.py's (three models, a metadata key, 2% not-assessed cells, onsets), written as
``export --to parquet DIR`` writes them (hive partitions by set, model and ingest day; seven ingest days), a
million at a time (each million with its own seed). Reading and the statistics run in a fresh process of their
own, so its peak resident memory is theirs (imports included). ``--keep DIR`` keeps the dataset, ``--reuse DIR``
reads one kept earlier without writing (write large ones under /tmp, not in the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


CHUNK = 1_000_000  # vectors generated and written at a time (a 10M dataset is written in ten parts)


def _write(n: int, folder: Path) -> dict:
    """Generate ``n`` vectors and write them as ``export --to parquet`` does, a million at a time (each part
    with its own seed and trace ids following the previous part's, the files of all parts side by side)."""
    from bench_stats import generate

    from mastlens.analysis.export import MANIFEST, write_vector_dataset

    generated = written = 0.0
    full_frame = 0
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        started = time.perf_counter()
        df = generate(size, seed=1 + start // CHUNK)
        if start:
            df["id"] = [f"run-{start + i}" for i in range(size)]
        df.attrs.update(excluded={"stale": 0, "errors": 0, "not_in_store": 0}, success_decided="")
        generated += time.perf_counter() - started
        days = np.array([f"2026-01-{d:02d}" for d in range(1, 8)])[(start + np.arange(size)) % 7].tolist()
        started = time.perf_counter()
        part = folder if not start else folder.parent / f"{folder.name}.part"
        write_vector_dataset(df, part, days)
        if start:  # the part's files beside the others (their names are unique), then the part's folder goes
            for path in part.rglob("*.parquet"):
                target = folder / path.relative_to(part)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
            shutil.rmtree(part)
        written += time.perf_counter() - started
        full_frame += int(df.memory_usage(deep=True).sum())
        del df
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for facts in manifest["sets"].values():
        facts["rows"] = n
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    files = list(folder.rglob("*.parquet"))
    return {"generated_s": generated, "write_s": written, "files": len(files),
            "bytes": sum(p.stat().st_size for p in files), "full_frame_bytes": full_frame}


def _read(folder: str) -> None:
    """In a fresh process: reduce the vectors (one DuckDB scan), compute every statistic, print the figures."""
    from mastlens.analysis.parquet_source import patterns_from_parquet
    from mastlens.analysis.stats import stats_from_patterns

    started, cpu = time.perf_counter(), time.process_time()
    patterns, attrs = patterns_from_parquet(folder, group_by="model")
    read = time.perf_counter() - started
    started = time.perf_counter()
    result = stats_from_patterns(patterns, attrs, set_name=attrs["set"], group_by="model")
    computed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": patterns.n, "patterns": len(patterns.count), "read_s": read, "stats_s": computed,
                      "cpu_s": time.process_time() - cpu, "groups": len(result.groups),
                      "peak_rss_bytes": peak_kib * 1024}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the dataset here and keep it (default: a temporary folder)")
    parser.add_argument("--reuse", type=Path, help="read this dataset (written earlier with --keep) instead")
    parser.add_argument("--read", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.read:
        _read(args.read)
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.reuse or args.keep or Path(tmp) / "vectors"
        if args.reuse is None:
            wrote = _write(args.traces, folder)
            print(f"generated {args.traces:,} vectors in {wrote['generated_s']:.1f} s; wrote {wrote['files']} "
                  f"Parquet files, {wrote['bytes'] / 1e6:.1f} MB, in {wrote['write_s']:.1f} s "
                  f"({args.traces / wrote['write_s']:,.0f} vectors/s); the frames took "
                  f"{wrote['full_frame_bytes'] / 1e6:,.0f} MB in pandas")
        started = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--read", str(folder)], capture_output=True, text=True,
                               check=True)
        wall = time.perf_counter() - started
        got = json.loads(child.stdout.strip().splitlines()[-1])
    n = got["rows"]
    total = got["read_s"] + got["stats_s"]
    print(f"stats --from: {n:,} vectors reduced to {got['patterns']:,} distinct rows in {got['read_s']:.2f} s "
          f"({n / got['read_s']:,.0f} vectors/s); every statistic from them: {got['stats_s']:.2f} s; together "
          f"{total:.2f} s ({n / total:,.0f} vectors/s; {got['cpu_s']:.1f} s CPU); the process with its imports "
          f"{wall:.2f} s wall")
    print(f"peak resident memory of the reading process: {got['peak_rss_bytes'] / 1e6:,.0f} MB "
          f"(goal at 10M: < 30 s, < 2 GB)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
