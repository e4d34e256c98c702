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


def loaded_modules(tmp_path: Path, *args: str, db: Path | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """Every module loaded by ``mastlens ARGS`` run in a fresh interpreter, and the process."""
    out = tmp_path / "modules.json"
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENAI_API_KEY="test-key")
    env.pop("OPENAI_BASE_URL", None)
    if db is not None:
        env["MASTLENS_DB"] = str(db)
    done = subprocess.run([sys.executable, "-c", _RUN, str(out), *args], env=env, capture_output=True, text=True,
                          timeout=300)
    return set(json.loads(out.read_text())), done


def imported(tmp_path: Path, *args: str, db: Path | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """Top-level packages loaded by ``mastlens ARGS`` run in a fresh interpreter, and the process."""
    modules, done = loaded_modules(tmp_path, *args, db=db)
    return {m.split(".")[0] for m in modules}, done


def mastlens_modules(tmp_path: Path, *args: str, db: Path | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """The ``mastlens.*`` modules loaded by ``mastlens ARGS``, and the process."""
    modules, done = loaded_modules(tmp_path, *args, db=db)
    return {m for m in modules if m.startswith("mastlens.")}, done


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
    # listing reads rows: no pydantic model is built, so neither the trace models nor pydantic load
    # (typer >= 0.29 would load pydantic to coerce options: pyproject keeps typer below it)
    assert "pydantic" not in loaded, "pydantic loaded by `traces` (typer >= 0.29 installed? pip install -e .)"


def test_a_command_loads_only_its_own_module(tmp_path):
    db = tmp_path / "m.db"
    with Store(db) as store:
        fill(store, 2)
    ours, done = mastlens_modules(tmp_path, "traces", db=db)
    assert done.returncode == 0, done.stderr
    commands = {m for m in ours if m.startswith("mastlens.cli.")} - {"mastlens.cli.app", "mastlens.cli.common",
                                                                      "mastlens.cli.tables"}
    assert commands == {"mastlens.cli.traces"}
    assert not {m for m in ours if m.split(".")[1] in ("trace", "taxonomy", "adapters", "judges", "analysis")}, ours
    # --help still lists every command with its help, which loads every command module (and nothing heavy)
    ours, done = mastlens_modules(tmp_path, "--help", db=db)
    for name in ("annotate", "import-labels", "traces", "report", "review"):
        assert f"│ {name} " in done.stdout, name
    assert {"mastlens.cli.annotate", "mastlens.cli.import_labels", "mastlens.cli.review"} <= ours
    _, done = imported(tmp_path, "trace", db=db)  # a mistyped command still gets a suggestion
    assert done.returncode == 2 and "Did you mean 'traces'?" in done.stderr


def test_dry_run_and_cached_rerun_open_no_http_client(tmp_path):
    db = tmp_path / "m.db"
    with Store(db) as store:
        fill(store, 4)
    transport = {"mastlens.judges.llm.http", "http.client"}
    with FakeOpenAI(good) as server:
        judge = ["annotate", "--judge", "openai:gpt-4.1-mini", "--base-url", server.url, "--json"]
        loaded, done = loaded_modules(tmp_path, *judge, "--dry-run", db=db)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["to_annotate"] == 4 and not loaded & transport and server.calls == 0
        loaded, done = loaded_modules(tmp_path, *judge, db=db)  # the first run sends requests
        assert json.loads(done.stdout)["calls"] == 4 and transport <= loaded and "openai" not in loaded
        modules, done = loaded_modules(tmp_path, *judge, "--set", "again", db=db)
        summary = json.loads(done.stdout)
        assert (summary["annotated"], summary["calls"], summary["cache_hits"]) == (4, 0, 4)
        assert not modules & transport and not {m.split(".")[0] for m in modules} & HEAVY and server.calls == 4
        # --json shows no progress bar, so rich's live-display machinery never loads
        assert "rich.progress" not in modules and "rich.live" not in modules


def test_light_analysis_modules_leave_the_numeric_stack_unloaded():
    code = ("import sys, mastlens.analysis.labels, mastlens.analysis.otel_export, mastlens.analysis.results\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(SRC)),
                          capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "mastlens" in loaded and not loaded & (HEAVY | {"numpy"})
