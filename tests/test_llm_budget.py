"""A trace's budget for its long outputs and arguments: whole-line cuts that keep how commands went, shares, and
what stays as it was (a trace within its budget renders exactly as without one)."""

from __future__ import annotations

import re

from codex_coding_run import write_coding_run
from rules_traces import swe_run

from mastlens.adapters.loader import read_file
from mastlens.judges.llm.budget import step_limits
from mastlens.judges.llm.cuts import allocate, cut_argument, cut_lines
from mastlens.judges.llm.render import TOOL_OUTPUT_CHARS, arguments_text, cut_middle, render_trace
from mastlens.trace import Source, Step, StepKind, Trace

_MARK = re.compile(r"\n?\[\.\.\. (\d+) characters omitted \.\.\.\]\n?")


def _accounted(text: str, cut: str) -> bool:
    """Whether every character of ``text`` is either shown in ``cut`` or counted by one of its markers."""
    return sum(int(n) for n in _MARK.findall(cut)) + len(_MARK.sub("", cut)) == len(text)


def _log(lines: int, seed: int = 0) -> list[str]:
    return [f"2026-01-15T17:45:{i % 60:02d}.{seed:03d}Z INFO cart trace_id={(i * 7919 + seed) * 104729:032x} "
            f"request handled in {i % 97}ms" for i in range(lines)]


def _body(body: str, index: int) -> str:
    return body.split(f"[step {index} |", 1)[1].split("\n", 1)[1].split("\n\n[step ", 1)[0]


def test_a_cut_keeps_whole_lines_head_and_tail_and_the_lines_that_say_how_it_went():
    lines = _log(600)
    lines[200] = "2026-01-15T17:45:11.000Z ERROR cart trace_id=abcdef1234567890 EmptyCart failures (flag on)"
    lines[201] = "2026-01-15T17:45:12.000Z ERROR cart trace_id=fedcba0987654321 EmptyCart failures (flag on)"
    lines[400] = "ValueError: unknown namespace"
    summary = "\n==== FAILED tests/test_x.py::test_y\n==== 1 failed, 20 passed in 3.2s ===="
    text = "Exit code: 1\nOutput:\n" + "\n".join(lines) + summary
    cut = cut_lines(text, 700)
    assert len(cut) <= 700 + 40 and _accounted(text, cut)
    kept = cut.split("\n")
    assert kept[0] == "Exit code: 1" and kept[-1] == "==== 1 failed, 20 passed in 3.2s ===="
    assert "ValueError: unknown namespace" in kept and lines[200] in kept
    assert lines[201] not in kept  # one line of each shape: the second ERROR differs only in its ids
    assert all(line in text.split("\n") or _MARK.fullmatch(line) for line in kept)  # whole lines, or markers


def test_a_patch_cut_keeps_every_file_it_touches():
    patch = ("*** Begin Patch\n*** Update File: src/app.py\n@@ def f():\n" + "+    x = compute(x)\n" * 300
             + "*** Add File: src/new_module.py\n" + "+y = 1\n" * 300 + "*** Delete File: old.py\n*** End Patch")
    cut = cut_argument(patch, 300)
    assert _accounted(patch, cut) and len(cut) < 420
    for line in ("*** Begin Patch", "*** Update File: src/app.py", "*** Add File: src/new_module.py",
                 "*** Delete File: old.py", "*** End Patch"):
        assert line in cut.split("\n")
    script = "python3 - <<'PY'\n" + "print('x')\n" * 3000 + "PY"
    cut = cut_argument(script, 300)
    assert cut.startswith("python3 - <<'PY'\n") and cut.endswith("\nPY") and _accounted(script, cut)


def test_shares_are_the_default_when_they_fit_else_weighted_within_the_total():
    assert allocate([5000] * 5, [1] * 5, 6000, cap=1200, floor=240) == [1200] * 5
    limits = allocate([50_000] * 19 + [50_000], [1.0] * 18 + [2.0, 2.0], 12_000, cap=1200, floor=240)
    assert sum(limits) <= 12_000 and limits[-1] == limits[-2] >= 2 * limits[0] - 1 and limits[0] >= 240
    assert allocate([50_000] * 100, [1.0] * 100, 12_000, cap=1200, floor=240) == [240] * 100  # never below the floor


def _outputs_trace(n: int, size: int, failing: int | None = None) -> Trace:
    steps = [Step(index=0, kind=StepKind.SYSTEM, content="Diagnose only."),
             Step(index=0, kind=StepKind.USER, content="Find the root cause.")]
    for k in range(n):
        steps.append(Step(index=0, kind=StepKind.TOOL_CALL, tool="shell", arguments={"command": f"cat log{k}"}))
        body = "\n".join(_log(size // 110, seed=k))
        steps.append(Step(index=0, kind=StepKind.TOOL_RESULT, tool="shell", content=f"run {k}\n{body}",
                          metadata={"exit_code": 2 if k == failing else 0}))
    for i, s in enumerate(steps):
        s.index = i
    return Trace(id="o", source=Source(format="native"), steps=steps)


def test_a_trace_within_its_budget_renders_as_without_one():
    trace = _outputs_trace(8, 20_000)  # eight long outputs: each keeps the default head + tail cut
    raw = sum(len(s.content) + len(arguments_text(s.arguments)) for s in trace.steps)
    assert step_limits(trace, raw, TOOL_OUTPUT_CHARS, TOOL_OUTPUT_CHARS // 2) == {}
    text = render_trace(trace).windows[0].text
    for step in trace.steps[3::2]:
        assert cut_middle(step.content, TOOL_OUTPUT_CHARS) in _body(text, step.index)


def test_over_its_budget_each_output_gets_its_share_more_for_the_last_and_failing_ones():
    trace = _outputs_trace(30, 20_000, failing=4)
    text = render_trace(trace).windows[0].text
    results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    shown = {s.index: len(_body(text, s.index)) for s in results}
    assert sum(shown.values()) <= 9 * TOOL_OUTPUT_CHARS + 30 * 80  # the total, give or take the labels and markers
    plain = shown[results[10].index]
    assert plain < TOOL_OUTPUT_CHARS // 2
    assert shown[results[4].index] > 1.5 * plain and shown[results[-1].index] > 1.5 * plain
    for step in results:  # every output keeps how it began and how it ended
        body = _body(text, step.index)
        assert step.content.split("\n", 1)[0] in body and step.content.rsplit("\n", 1)[1] in body


def test_a_failing_test_summary_at_the_end_of_a_long_real_output_survives_the_budget():
    # A real SWE-bench run (mini-swe-agent, django__django-15375, build half) with 40-odd long outputs: over its
    # budget. Step 107 runs the test suite: 10 KB of output ending in the failing summary.
    trace = swe_run("django__django-15375")
    raw = sum(len(s.content) + len(arguments_text(s.arguments)) for s in trace.steps)
    step = next(s for s in trace.steps if s.index == 107)
    assert step.kind is StepKind.TOOL_RESULT and len(step.content) > 10_000
    assert "FAILED (failures=20, errors=4)" in step.content[-400:]
    share = step_limits(trace, raw, TOOL_OUTPUT_CHARS, TOOL_OUTPUT_CHARS // 2)[trace.steps.index(step)]
    assert share < TOOL_OUTPUT_CHARS
    body = _body(render_trace(trace).windows[0].text, 107)
    assert len(body) < share + 200 and _accounted(step.content, body.split("\n", 1)[1])
    assert body.startswith("(exit code: 1; tool reported an error)")
    for line in ("Ran 110 tests in 0.337s", "FAILED (failures=20, errors=4)",
                 "ERROR: test_add_implementation (aggregation.tests.AggregateTestCase)",
                 "Traceback (most recent call last):"):
        assert line in body.split("\n"), line


def test_every_patch_of_a_generated_1mb_rollout_keeps_its_file_name_and_end(tmp_path):
    run = write_coding_run(tmp_path / "rollout.jsonl", target_bytes=1_000_000, calls=25)
    trace = read_file(run.path).traces[0]
    text = render_trace(trace).windows[0].text
    patches = [s for s in trace.steps if s.tool == "apply_patch" and s.kind is StepKind.TOOL_CALL]
    assert patches
    for step in patches:
        body = _body(text, step.index)
        assert "characters omitted" in body and len(body) < 600
        assert "*** Update File: /work/agent_outputs/scenario_2/1/notes.py" in body and "*** End Patch" in body
