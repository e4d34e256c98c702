"""Rules v8 on real runs from ../shared (positive and near miss each): a file written through a shell heredoc
(``cat <<'EOF' > file``) is a change like any other (FM-3.2 on submitted runs), and under a policy that gates
every action on the user's explicit yes, one yes confirms one action unless it agreed to several (FM-1.1)."""

from __future__ import annotations

import pytest
from conftest import require_fixtures
from rules_traces import assert_quotes_verify, devset_traces, swe_run

from mastlens.judges.rules import judge_trace
from mastlens.judges.rules.commands import changes
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.gate import unconfirmed_writes
from mastlens.judges.rules.shell import simple_commands
from mastlens.judges.rules.view import TraceView
from mastlens.trace import StepKind


@pytest.fixture(autouse=True)
def _fixtures():
    require_fixtures()


def _last_file_change(view: TraceView):
    return [c for c in view.calls if any(ch.kind == "file" and not ch.removal for ch in changes(c))][-1]


def test_a_heredoc_write_keeps_its_redirect_and_drops_its_body():
    """The redirect on a heredoc's opening line names the file written; the body is data, not commands."""
    assert simple_commands("cat <<'EOF' > app/models.py\nimport os\nrm -rf x\nEOF") == [["cat", ">", "app/models.py"]]
    assert simple_commands("cat <<EOF >> a.py && python a.py\nprint(1)\nEOF") == [["cat", ">>", "a.py"],
                                                                                  ["python", "a.py"]]


def test_file_written_by_heredoc_and_submitted_unrun():
    """django-11820 (failed): the agent's last change rewrites ``test_app/models.py`` through a heredoc and the
    run submits with nothing run or read after it; before v8 the heredoc hid the write and FM-3.2 was absent."""
    trace = swe_run("django__django-11820")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    last = _last_file_change(view)
    assert "<<" in last.step.content and {"models.py"} <= {t for ch in changes(last) for t in ch.targets}
    verdict = judge_trace(trace).modes["FM-3.2"]
    assert verdict.status.value == "present" and f"step {last.step.index}" in verdict.reason
    assert_quotes_verify(trace, verdict.id)


def test_file_written_by_heredoc_then_run_is_checked():
    """django-11095 (resolved), near miss: the last change is a heredoc script too, and the agent runs code
    after it before submitting."""
    trace = swe_run("django__django-11095")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    last = _last_file_change(view)
    assert "<<" in last.step.content and changes(last)
    verdict = judge_trace(trace).modes["FM-3.2"]
    assert verdict.status.value == "absent" and f"step {last.step.index}" in verdict.reason


def test_second_write_on_a_single_plain_yes():
    """tau-4-3 (reward 0): the user answers "Yes, please proceed." and the agent makes one write, then another
    with no new confirmation asked; the policy wants an explicit yes before each action. Before v8 the second
    write shared the first one's yes."""
    trace = devset_traces("tau_bench")["tau-4-3"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    found, n_writes = unconfirmed_writes(view)
    assert n_writes == 4 and len(found) == 1
    call, user = found[0]
    assert user is not None and user.content.lower().startswith("yes")
    between = view.steps_between(user, call.step)
    assert not any(s.kind is StepKind.USER for s in between)
    assert any(s.kind is StepKind.TOOL_CALL and changes(next(c for c in view.calls if c.step is s)) for s in between)
    verdict = judge_trace(trace).modes["FM-1.1"]
    assert verdict.status.value == "present" and f"step(s) {call.step.index}" in verdict.reason
    assert_quotes_verify(trace, verdict.id)


def test_a_yes_to_several_actions_confirms_each_of_them():
    """tau2 airline 21 (reward 1), near miss: the user confirms "both actions as outlined" and the agent makes
    both writes back to back; and tau2 airline 17: "proceed with all the modifications"."""
    runs = devset_traces("tau2")
    for trace_id, words in (("tau2-airline-21-0-597e646c", "both"), ("tau2-airline-17-0-6a9c9e49", "all")):
        trace = runs[trace_id]
        view = TraceView.build(trace, DEFAULT_CONFIG)
        found, n_writes = unconfirmed_writes(view)
        assert n_writes >= 2 and not found
        assert any(words in s.content.lower() for s in trace.steps if s.kind is StepKind.USER)
        assert judge_trace(trace).modes["FM-1.1"].status.value == "absent"
