"""FM-3.1: a run that submits after the agent's own words set part of the task aside, with no change after them
(:mod:`mastlens.judges.rules.omission`). Checked on real SWE-bench build runs (../shared/devsets; skipped with the
reason when absent) and on constructed runs."""

from __future__ import annotations

from rules_traces import TraceBuilder, assert_quotes_verify, evidence_steps, swe_run, verdict_of

from mastlens.trace import ModeStatus


def test_a_case_left_out_then_submitted_is_premature():
    """SWE-bench django-15957 (unresolved), step 138, after its last edit: "I decided not to fix ManyToMany because
    it's more complex ... and it wasn't explicitly requested", then the run submits."""
    trace = swe_run("django__django-15957")
    verdict = verdict_of(trace, "FM-3.1")
    assert verdict.status is ModeStatus.PRESENT
    assert "decided not to" in verdict.reason and evidence_steps(verdict) == [138]
    assert_quotes_verify(trace, "FM-3.1")


def test_out_of_scope_said_after_the_last_edit_is_premature():
    """SWE-bench django-11820 (unresolved), step 101: "I won't try to fix this as it's out of scope", nothing
    changed after it."""
    trace = swe_run("django__django-11820")
    verdict = verdict_of(trace, "FM-3.1")
    assert verdict.status is ModeStatus.PRESENT and evidence_steps(verdict) == [101]


def test_out_of_scope_then_changed_anyway_is_no_omission():
    """Near miss, SWE-bench django-15569 (resolved): at step 43 the agent calls a test change "out of scope",
    then goes on editing; the part it set aside was not left out at the end."""
    trace = swe_run("django__django-15569")
    assert any("out of scope" in s.content for s in trace.steps if s.index == 43)
    verdict = verdict_of(trace, "FM-3.1")
    assert verdict.status is not ModeStatus.PRESENT or "left part of the task out" not in verdict.reason


def _submitted(words: str, *, edit_after: bool = False) -> TraceBuilder:
    b = TraceBuilder(task="Fix the parser so that negative durations parse.")
    b.shell("sed -i 's/a/b/' parser.py").shell("python repro.py", "ok").say(words)
    if edit_after:
        b.shell("sed -i 's/c/d/' parser.py").shell("python repro.py", "ok").say("Both cases handled now.")
    return b.call("submit", {}, "submitted")


def test_constructed_omission_before_the_submission():
    trace = _submitted("The negative seconds case works. I won't handle negative days; that is out of scope.").build()
    verdict = verdict_of(trace, "FM-3.1")
    assert verdict.status is ModeStatus.PRESENT and "won't handle" in verdict.reason


def test_constructed_omission_then_fixed_or_no_submission():
    changed = _submitted("I won't handle negative days for now.", edit_after=True).build()
    assert "left part of the task out" not in verdict_of(changed, "FM-3.1").reason
    b = TraceBuilder(task="Fix the parser.")
    b.shell("sed -i 's/a/b/' parser.py").say("Done. Negative days are out of scope.", final=True)
    assert "left part of the task out" not in verdict_of(b.build(), "FM-3.1").reason  # no submission: a chat answer
    plain = _submitted("All cases work; I kept the change minimal.").build()
    assert "left part of the task out" not in verdict_of(plain, "FM-3.1").reason


def test_a_failed_edit_is_no_change_for_either_submission_rule():
    """FM-3.1 and FM-3.2 read "the last change before the submission" the same way (``last_file_edit``): an edit
    that failed changed nothing, so the words before it still come after the last change, and the check run
    after the last edit that worked still counts."""
    b = TraceBuilder(task="Fix the parser so that negative durations parse.")
    b.shell("sed -i 's/a/b/' parser.py").shell("python repro.py", "ok")
    b.say("Seconds work now. Negative days are out of scope, I won't handle them.")
    b.shell("sed -i 's/c/d/' parsr.py", "sed: can't read parsr.py: No such file or directory", exit_code=2)
    trace = b.call("submit", {}, "submitted").build()
    omission = verdict_of(trace, "FM-3.1")
    assert omission.status is ModeStatus.PRESENT and "out of scope" in omission.reason
    check = verdict_of(trace, "FM-3.2")
    assert check.status is ModeStatus.ABSENT and "ran or read it again" in check.reason
