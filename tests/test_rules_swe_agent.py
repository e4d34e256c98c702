"""SWE-agent's editor commands are file changes the rules see (``create``, ``edit``/``insert`` on the open file, the
reader keeping ``state.open_file`` on each call, ``str_replace_editor`` from the shell), so a SWE-agent run that
submits is judged for FM-3.2 and FM-3.1 like a mini-swe-agent one. Read from the three real trajectories in
../shared/devsets/swe_agent (skipped with the reason when absent) and on constructed variants of one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rules_traces import evidence_steps, verdict_of

from mastlens.adapters.loader import read_file
from mastlens.judges.rules import DEFAULT_CONFIG
from mastlens.judges.rules.commands import changes
from mastlens.judges.rules.view import TraceView
from mastlens.trace import ModeStatus


def _trace(path: Path):
    [trace] = read_file(path).traces
    return trace


def _edited(trace) -> list[tuple[int, list[str]]]:
    view = TraceView.build(trace, DEFAULT_CONFIG)
    return [(c.step.index, sorted(t for ch in changes(c) if not ch.removal for t in ch.targets))
            for c in view.calls if any(not ch.removal for ch in changes(c))]


def test_edits_of_the_open_file_are_changes_to_it(swe_agent_dir):
    """pydicom-1458: ``create reproduce_bug.py``, ``edit 1:1`` of it, then four ``edit 287:29x`` of the handler
    opened with ``open pydicom/pixel_data_handlers/numpy_handler.py``."""
    trace = _trace(swe_agent_dir / "pydicom__pydicom-1458.traj")
    edited = _edited(trace)
    assert [t for _, t in edited] == [["reproduce_bug.py"]] * 2 + [["numpy_handler.py"]] * 4
    body = next(s for s in trace.steps if s.index == edited[2][0]).content
    assert "\n" in body and "end_of_edit" in body  # the edit's body is text, not commands
    edits = [s for s in trace.steps if s.index in dict(edited) and s.content.startswith("edit ")]
    assert len(edits) == 5 and all(s.metadata["open_file"].endswith(".py") for s in edits)


@pytest.mark.parametrize(("name", "last_edit", "check"), [("pydicom__pydicom-1458.traj", 28, 31),
                                                          ("marshmallow-code__marshmallow-1867.traj", 24, 27),
                                                          ("swe-agent__test-repo-i1.traj", 10, 13)])
def test_a_submission_checked_after_its_last_edit(swe_agent_dir, name, last_edit, check):
    verdict = verdict_of(_trace(swe_agent_dir / name), "FM-3.2")
    assert verdict.status is ModeStatus.ABSENT
    assert f"(step {last_edit})" in verdict.reason and f"step {check} ran" in verdict.reason


def test_a_submission_with_no_run_after_the_last_edit_is_unchecked(swe_agent_dir, tmp_path):
    """The small run with its ``python tests/missing_colon.py`` left out: edit, then submit."""
    data = json.loads((swe_agent_dir / "swe-agent__test-repo-i1.traj").read_text(encoding="utf-8"))
    ran = next(s["action"] for s in data["trajectory"] if s["action"].startswith("python "))
    data["trajectory"] = [s for s in data["trajectory"] if s["action"] != ran]
    data["history"] = [m for m in data["history"] if m.get("action") != ran]
    path = tmp_path / "unchecked.traj"
    path.write_text(json.dumps(data), encoding="utf-8")
    trace = _trace(path)
    verdict = verdict_of(trace, "FM-3.2")
    edit = next(s.index for s in trace.steps if s.content.startswith("edit "))
    assert verdict.status is ModeStatus.PRESENT and "missing_colon.py" in verdict.reason
    assert evidence_steps(verdict)[0] == edit


def test_str_replace_editor_from_the_shell_changes_its_path():
    from rules_traces import TraceBuilder

    b = TraceBuilder(task="Fix the bug.")
    b.shell("str_replace_editor view /testbed/src/app.py", "...")
    b.shell("str_replace_editor str_replace /testbed/src/app.py --old_str 'a' --new_str 'b'", "edited")
    view = TraceView.build(b.build(), DEFAULT_CONFIG)
    assert [sorted(ch.targets) for c in view.calls for ch in changes(c)] == [["app.py"]]
