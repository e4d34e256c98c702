"""Rules v7 single-agent detectors on real runs from ../shared (positive and near miss each): a write the run's
own instructions gate on the user's explicit confirmation, made without it (FM-1.1)."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import FIXTURES, require_fixtures
from rules_traces import assert_quotes_verify

import mastlens
from mastlens.judges.rules import judge_trace
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.gate import confirmation_gate, unconfirmed_writes
from mastlens.judges.rules.view import TraceView
from mastlens.trace import StepKind, Trace


@pytest.fixture(autouse=True)
def _fixtures():
    require_fixtures()


@cache
def _traces(source: str) -> dict[str, Trace]:
    return {t.id: t for t in mastlens.load_traces(str(FIXTURES / source))}


def test_write_without_the_explicit_yes_the_policy_demands():
    """tau-10-0 (reward 0): the policy asks for the action details and an explicit yes before any booking; the
    user's last word before ``book_reservation`` gives payment details, and the agent books."""
    trace = _traces("tau_bench")["tau-10-0"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    gate = confirmation_gate(view)
    assert gate is not None and "explicit user confirmation" in gate[1] and gate[0].kind is StepKind.SYSTEM
    found, n_writes = unconfirmed_writes(view)
    assert n_writes == 1 and len(found) == 1
    call, user = found[0]
    assert call.tool == "book_reservation" and user is not None and user.index < call.step.index
    assert "yes" not in user.content.lower()
    verdict = judge_trace(trace).modes["FM-1.1"]
    assert verdict.status.value == "present"
    assert {gate[0].index, user.index, call.step.index} <= {e.step for e in verdict.evidence}
    assert_quotes_verify(trace, "FM-1.1")


def test_writes_each_after_the_users_yes_are_no_violation():
    """tau-11-0 (reward 1): both bookings follow a user message saying yes, proceed: assessed and absent."""
    trace = _traces("tau_bench")["tau-11-0"]
    view = TraceView.build(trace, DEFAULT_CONFIG)
    found, n_writes = unconfirmed_writes(view)
    assert n_writes == 2 and found == []
    assert judge_trace(trace).modes["FM-1.1"].status.value == "absent"


def test_a_run_that_changes_nothing_or_carries_no_gate_is_not_assessed():
    """tau-12-0 makes no write (the gate has nothing to hold); Who&When teams carry no confirmation gate."""
    assert judge_trace(_traces("tau_bench")["tau-12-0"]).modes["FM-1.1"].status.value == "not_assessed"
    for trace in _traces("who_and_when").values():
        assert judge_trace(trace).modes["FM-1.1"].status.value == "not_assessed", trace.id
