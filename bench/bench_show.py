"""`mastlens show --full` on one long unbroken step (no space, no newline): time per size, and the ratio
to the smallest, which stays near the size ratio when printing is linear.

Reproduce: ``python bench/bench_show.py [--sizes 3 10 30]`` (MB). Times reading the file and printing the
timeline in-process (the command's code path, output to /dev/null at 80 columns), so start-up is left out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def write_trace(path: Path, megabytes: int) -> None:
    body = "x" * (megabytes * 1024 * 1024)
    path.write_text(json.dumps({"id": f"long-{megabytes}", "messages": [
        {"role": "user", "content": "print the log"}, {"role": "assistant", "content": body}]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 30])
    args = parser.parse_args()
    print(f"reproduce: python bench/bench_show.py --sizes {' '.join(map(str, args.sizes))}")
    from rich.console import Console

    import mastlens.cli.show as show
    from mastlens.adapters.loader import load_traces

    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for mb in args.sizes:
            path = Path(tmp) / f"long-{mb}.json"
            write_trace(path, mb)
            with open("/dev/null", "w") as sink:
                show.console = Console(file=sink, width=80)
                start = time.perf_counter()
                for trace in load_traces(path):
                    show.print_timeline(trace, 0)
                seconds = time.perf_counter() - start
            first = first or (mb, seconds)
            print(f"{mb:>4} MB  {seconds:6.2f} s  x{seconds / first[1]:.1f} time for x{mb / first[0]:.1f} size")


if __name__ == "__main__":
    main()
