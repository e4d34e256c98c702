"""Statistics from an exported Parquet dataset through DuckDB (``stats --from DIR``) on 1,000,000 generated
failure vectors: vectors/s read, vectors/s read + every statistic, and the peak memory of the process.

    PYTHONPATH=src python bench/bench_parquet.py [--traces 1000000] [--keep DIR]

The vectors are bench_stats.py's (three models, a metadata key, 2% not-assessed cells, onsets), written as
``export --to parquet DIR`` writes them (hive partitions by set, model and ingest day; seven ingest days).
Reading and the statistics run in a fresh process of their own, so its peak resident memory is theirs
(imports included), beside the size of the frame DuckDB hands over (only the columns the statistics use)
and that of the whole frame the export wrote. All figures come from the same run.
"""

from __future__ import annotations

import argparse
import json
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
    """In a fresh process: read the vectors, compute every statistic, print the figures as JSON."""
    from mastlens.analysis.parquet_source import vectors_from_parquet
    from mastlens.analysis.stats import stats_from_vectors

    started = time.perf_counter()
    df = vectors_from_parquet(folder, group_by="model")
    read = time.perf_counter() - started
    started = time.perf_counter()
    result = stats_from_vectors(df, set_name=df.attrs["set"], group_by="model")
    computed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": len(df), "read_s": read, "stats_s": computed, "groups": len(result.groups),
                      "frame_bytes": int(df.memory_usage(deep=True).sum()), "peak_rss_bytes": peak_kib * 1024}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the dataset here and keep it (default: a temporary folder)")
    parser.add_argument("--read", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.read:
        _read(args.read)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "vectors"
        wrote = _write(args.traces, folder)
        print(f"generated {args.traces:,} vectors in {wrote['generated_s']:.1f} s; wrote {wrote['files']} Parquet "
              f"files, {wrote['bytes'] / 1e6:.1f} MB, in {wrote['write_s']:.1f} s "
              f"({args.traces / wrote['write_s']:,.0f} vectors/s)")
        child = subprocess.run([sys.executable, __file__, "--read", str(folder)], capture_output=True, text=True,
                               check=True)
        got = json.loads(child.stdout.strip().splitlines()[-1])
    n = got["rows"]
    total = got["read_s"] + got["stats_s"]
    print(f"read through DuckDB: {n:,} vectors in {got['read_s']:.2f} s ({n / got['read_s']:,.0f} vectors/s); "
          f"every statistic: {got['stats_s']:.2f} s; together {n / total:,.0f} vectors/s")
    print(f"frame handed over: {got['frame_bytes'] / 1e6:.0f} MB (the whole exported frame: "
          f"{wrote['full_frame_bytes'] / 1e6:.0f} MB, ratio {got['frame_bytes'] / wrote['full_frame_bytes']:.2f}); "
          f"peak resident memory of the reading process: {got['peak_rss_bytes'] / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
