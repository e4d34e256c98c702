"""Whether a coding run ran the project's own tests, as opposed to only scripts the agent wrote (read by FM-3.2).

A coding agent that changes a project's source can check the change two ways: with a script of its own (a
reproduction of the issue, a scratch test) or with the project's tests (its test runner, its test files). Its own
script shows the reported case works; only the project's tests show the change broke nothing they cover. A change
submitted after the agent's own scripts alone is checked against the one case the agent thought of: incomplete
verification (FM-3.2). Rules v9.

The project's tests are run by a test runner (``pytest``, ``tox``, ``nox``, ``python -m pytest|unittest``,
``go test``, ``cargo test``, ``npm test``, ``make test`` ...) or by a script of the project named for tests
(``runtests.py``, ``run_tests.sh``, ``tests/...``, ``test_x.py``) that the agent did not write in this run. The
project has tests when a tool output or a command of the run names a test folder or test file; a run that never
saw one is not judged on this (nothing says there were tests to run).
"""

from __future__ import annotations

import os
import re

from mastlens.judges.rules.commands import call_commands, changes
from mastlens.judges.rules.view import Call, TraceView

_RUNNERS = {"pytest", "py.test", "tox", "nox", "nosetests", "trial", "jest", "vitest", "mocha", "ctest", "phpunit",
            "rspec"}
_TEST_SUBCOMMAND = {"go", "cargo", "npm", "yarn", "pnpm", "make", "mvn", "gradle", "dotnet", "bun", "deno"}
_MODULE_RUNNERS = {"pytest", "unittest", "nose", "nose2", "tox"}
_INTERPRETER = re.compile(r"^(?:python[\d.]*|bash|sh|node|ruby|perl|php)$")
# A script named for tests: runtests.py, run_tests.sh, test_x.py, x_test.py, or anything under a test folder.
_TEST_SCRIPT = re.compile(r"(?:^|/)(?:run_?tests?\w*|tests?_\w+|\w+_tests?)\.\w+$|(?:^|/)tests?/", re.IGNORECASE)
# A test folder or file named in what the run saw (a listing, a grep hit, a path in a command).
_TESTS_SEEN = re.compile(r"(?:^|[\s/'\"])tests?/|\btest_\w+\.py\b|\b\w+_test\.(?:py|go|rs|js|ts)\b|\bruntests\b",
                         re.IGNORECASE | re.MULTILINE)
_SEEN_HEAD = 20_000


def written_files(view: TraceView) -> set[str]:
    """Basenames of the files the agent itself wrote in this run (a scratch script, a reproduction, a new test)."""
    return view.once("written_files", lambda v: {t for c in v.calls for ch in changes(c) if ch.kind == "file"
                                                 for t in ch.targets})


def _runs_project_tests(tokens: list[str], written: set[str]) -> bool:
    prog = os.path.basename(tokens[0])
    if prog in _RUNNERS or (prog in _TEST_SUBCOMMAND and "test" in tokens[1:3]):
        return True
    if _INTERPRETER.match(prog) and len(tokens) > 2 and tokens[1] == "-m":
        return tokens[2].split(".")[0] in _MODULE_RUNNERS
    script = tokens[1] if _INTERPRETER.match(prog) and len(tokens) > 1 else tokens[0]
    return bool(_TEST_SCRIPT.search(script)) and os.path.basename(script) not in written


def ran_project_tests(call: Call, written: set[str]) -> bool:
    """Whether ``call`` runs the project's tests (a test runner, or a test script the agent did not write)."""
    return any(_runs_project_tests(tokens, written) for tokens in call_commands(call) or [])


def project_has_tests(view: TraceView, before: int) -> bool:
    """Whether the run saw, before step ``before``, a test folder or test file of the project (in a tool output
    or a command)."""
    for call in view.calls:
        if call.step.index >= before:
            break
        if _TESTS_SEEN.search(call.output[:_SEEN_HEAD]) or _TESTS_SEEN.search(call.step.content[:_SEEN_HEAD]):
            return True
    return False


def project_tests_run(view: TraceView, before: int) -> list[Call]:
    """The calls before step ``before`` that ran the project's tests."""
    written = written_files(view)
    return [c for c in view.calls if c.step.index < before and ran_project_tests(c, written)]
