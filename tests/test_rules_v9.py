"""Rules v9: a backslash-newline in a shell command continues the line (the shell drops both characters), so the
command after it is read as the command it is. Checked on a real dev-set run (../shared/devsets; skipped with the
reason when absent) and on the shell's own cases."""

from __future__ import annotations

from rules_traces import swe_run

from mastlens.judges.rules.commands import call_commands, changes
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.shell import simple_commands
from mastlens.judges.rules.view import TraceView


def test_edits_chained_over_continued_lines_are_each_an_edit():
    """SWE-bench django-11815 (resolved), step 63: ``sed -i ... test_writer.py && \\<newline>sed -i ...``
    seven times. v8 read the second to seventh as a program named "\\nsed", no edit; each is now ``sed -i`` on
    the file."""
    trace = swe_run("django__django-11815")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    call = next(c for c in view.calls if c.step.index == 63)
    commands = call_commands(call)
    assert call.step.content.count("sed -i") == len(commands) == 7
    assert all(tokens[:2] == ["sed", "-i"] and tokens[-1].endswith("test_writer.py") for tokens in commands)
    assert [ch.targets for ch in changes(call)] == [{"test_writer.py"}] * 7


def test_a_backslash_newline_continues_the_line():
    """The continuation is no part of the next word; an escaped character elsewhere is kept, and a quoted
    backslash-newline is data."""
    assert simple_commands("cd /testbed && \\\nsed -i 's/a/b/' f.py") == [["cd", "/testbed"],
                                                                       ["sed", "-i", "s/a/b/", "f.py"]]
    assert simple_commands("echo a\\\nb") == [["echo", "ab"]]
    assert simple_commands("echo a\\ b") == [["echo", "a b"]]
    assert simple_commands("echo 'a\\\nb'") == [["echo", "a\\\nb"]]
