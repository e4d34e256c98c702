"""Start-up: commands import only what they use (checked in a subprocess, by module, never by timing).

Speed itself is measured in bench/bench_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fake_openai import FakeOpenAI, good
from judge_helpers import fill

from mastlens.store import Store

SRC = Path(__file__).resolve().parent.parent / "src"
HEAVY = {"openai", "pandas", "matplotlib", "scipy", "statsmodels"}
_RUN = """
import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], ["mastlens", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("mastlens", run_name="__main__")
"""


def imported(tmp_path: Path, *args: str, db: Path | None = None,
             full: bool = False) -> tuple[set[str], subprocess.CompletedProcess]:
    """Top-level packages (every module with ``full``) loaded by ``mastlens ARGS`` run in a fresh
    interpreter, and the process."""
    out = tmp_path / "modules.json"
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENAI_API_KEY="test-key")
    env.pop("OPENAI_BASE_URL", None)
    if db is not None:
        env["MASTLENS_DB"] = str(db)
    done = subprocess.run([sys.executable, "-c", _RUN, str(out), *args], env=env, capture_output=True, text=True,
                          timeout=300)
    modules = json.loads(out.read_text())
    return (set(modules) if full else {m.split(".")[0] for m in modules}), done


def test_traces_and_help_load_no_heavy_package(tmp_path):
    db = tmp_path / "m.db"
    with Store(db) as store:
        fill(store, 3)
    for args in (["traces"], ["traces", "--help"], ["--help"]):
        loaded, done = imported(tmp_path, *args, db=db)
        assert done.returncode == 0, done.stderr
        assert not loaded & HEAVY, (args, loaded & HEAVY)
    loaded, done = imported(tmp_path, "traces", db=db)
    assert "trace-000" in done.stdout and "asyncio" not in loaded  # it listed them, without the judging stack


def test_dry_run_and_cached_rerun_open_no_http_client(tmp_path):
    db = tmp_path / "m.db"
    with Store(db) as store:
        fill(store, 4)
    transport = {"mastlens.judges.llm.http", "http.client"}
    with FakeOpenAI(good) as server:
        judge = ["annotate", "--judge", "openai:gpt-4.1-mini", "--base-url", server.url, "--json"]
        loaded, done = imported(tmp_path, *judge, "--dry-run", db=db, full=True)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["to_annotate"] == 4 and not loaded & transport and server.calls == 0
        loaded, done = imported(tmp_path, *judge, db=db, full=True)  # the first run sends requests
        assert json.loads(done.stdout)["calls"] == 4 and transport <= loaded and "openai" not in loaded
        loaded, done = imported(tmp_path, *judge, "--set", "again", db=db, full=True)
        summary = json.loads(done.stdout)
        assert (summary["annotated"], summary["calls"], summary["cache_hits"]) == (4, 0, 4)
        assert not loaded & transport and not {m.split(".")[0] for m in loaded} & HEAVY and server.calls == 4


def test_light_analysis_modules_leave_the_numeric_stack_unloaded():
    code = ("import sys, mastlens.analysis.labels, mastlens.analysis.otel_export, mastlens.analysis.results\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(SRC)),
                          capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "mastlens" in loaded and not loaded & (HEAVY | {"numpy"})
