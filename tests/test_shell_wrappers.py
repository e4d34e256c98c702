"""Wrappers in front of a command (``timeout 60``, ``poetry run``, ``conda run -n env``) are not the program it runs,
and a local executable named by a relative path (sympy's ``bin/test``, django's ``tests/runtests.py``) runs code:
the checks the FM-3.2 rules look for after a change are seen whatever repository or environment the agent works in."""

from __future__ import annotations

import pytest
from rules_traces import TraceBuilder, verdict_of

from mastlens.judges.rules.commands import runs_code
from mastlens.judges.rules.shell import simple_commands
from mastlens.trace import ModeStatus


@pytest.mark.parametrize(("command", "program"), [
    ("timeout 60 python repro.py", ["python", "repro.py"]),
    ("timeout -s KILL -k 5 2m ./check.sh", ["./check.sh"]),
    ("sudo -u app env A=1 B=2 python x.py", ["python", "x.py"]),
    ("nice -n 5 make test", ["make", "test"]),
    ("stdbuf -oL nohup pytest -x", ["pytest", "-x"]),
    ("poetry run pytest tests/", ["pytest", "tests/"]),
    ("conda run -n testbed python x.py", ["python", "x.py"]),
    ("xvfb-run -a -s '-screen 0 1024x768x24' python gui.py", ["python", "gui.py"]),
])
def test_wrappers_are_dropped(command, program):
    assert simple_commands(command) == [program]


@pytest.mark.parametrize("command", ["bin/test sympy/core", "tests/runtests.py queries", "../run.sh",
                                     "/testbed/reproduce.py", "nosetests -v", "ipython repro.py",
                                     "timeout 30 python -c 'import x'", "poetry run python x.py"])
def test_what_runs_code(command):
    assert any(runs_code(t) for t in simple_commands(command))


@pytest.mark.parametrize("command", ["/bin/ls", "ls -la sympy/", "cat tests/runtests.py", "timeout 5 grep -n x a.py",
                                     "env", "python"])
def test_what_runs_no_code(command):
    assert not any(runs_code(t) for t in simple_commands(command))


def test_a_check_run_under_timeout_counts_after_the_last_edit():
    """FM-3.2 on a submitted run: the reproduction ran after the last edit, under ``timeout``, so the change was
    checked (before the fix the wrapper hid the interpreter and the run was flagged)."""
    b = TraceBuilder(task="Fix the parser so that negative durations parse.")
    b.shell("sed -i 's/a/b/' parser.py").shell("timeout 60 python repro.py", "ok")
    b.call("submit", {}, "submitted")
    verdict = verdict_of(b.build(), "FM-3.2")
    assert verdict.status is ModeStatus.ABSENT and "ran or read it again" in verdict.reason
