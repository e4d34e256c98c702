"""Decisive step of a team whose answer relays an unchecked claim of verification: the first such claim in the
chain, not the teammates who repeated it nor the first tool call (rules :mod:`~mastlens.judges.rules.decisive`,
rule 2; an orchestrator's closing ledger, rule 5). Checked on two Who&When build-half records (bench/devsplit.py;
read from ../shared, skipped with the reason when absent) and on constructed traces."""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from rules_traces import TraceBuilder

import mastlens
from mastlens.judges.rules import judge_trace
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.decisive import first_vouch
from mastlens.judges.rules.view import TraceView
from mastlens.judges.rules.vouching import VOUCH, vouches
from mastlens.trace import Trace

WW_DEV = FIXTURES.parent / "devsets" / "who_and_when"


def _record(relative: str) -> Trace:
    """One Who&When dev record, read alone (the build half only: never a validate-half record)."""
    path = WW_DEV / f"{relative}.json"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return next(iter(mastlens.load_traces(str(path))))


def _attributed(trace: Trace) -> tuple[int, str]:
    label = trace.metadata["attribution"]
    return trace.steps[label["step"]].index, label["mistake_agent"]


def test_an_ag2_answer_relaying_an_unchecked_verification_names_the_claimer():
    """Who&When AG 85 (build): a teammate says it reviewed the page and the line "is correct" (step 10, no call of
    its own since the failed search before it); the closing turn agrees with "the verification" and ends. The
    human attribution is that claim, not the team's first call (a failed search, step 7), which v9 named."""
    trace = _record("Algorithm-Generated/85")
    verdict = judge_trace(trace)
    assert (verdict.decisive_step, verdict.decisive_agent) == _attributed(trace) == (10, "BenAndJerrysFlavors_Expert")
    assert "relays a claim that the result was checked" in verdict.decisive_reason


def test_an_orchestrator_satisfied_on_a_report_that_claims_its_own_check_names_the_report():
    """Who&When HC 43 (build): the Assistant counts the stops, says "Verification of the stops and count is
    complete" with nothing run, and the orchestrator's ledger declares the request satisfied on it. The claim
    is the Assistant's (the human attribution); v9 named the ledger."""
    trace = _record("Hand-Crafted/43")
    verdict = judge_trace(trace)
    assert (verdict.decisive_step, verdict.decisive_agent) == _attributed(trace) == (12, "Assistant")
    assert "a report claiming a check its author never made" in verdict.decisive_reason


def _call(team: TraceBuilder, agent: str, query: str, output: str) -> None:
    team.call("search", {"q": query}, output)
    team.steps[-2].agent = agent  # the call is the agent's; its result the tool's


def _relay(*, checked: bool = False) -> Trace:
    """A solver reports a figure; a reviewer calls it verified (after a search of its own when ``checked``); a
    third agent repeats the verification and closes the run with TERMINATE."""
    team = TraceBuilder("How many moons does the planet have?")
    team.say("I will look it up.", agent="solver")
    _call(team, "solver", "moons", "12 moons")
    team.say("The planet has 12 moons.", agent="solver")
    if checked:
        team.say("Let me check the count.", agent="reviewer")
        _call(team, "reviewer", "moon count", "12 moons")
    team.say("The count of 12 has been verified.", agent="reviewer")
    team.say("The reviewer's count has been verified, so the answer is 12.\n\nTERMINATE", agent="closer")
    return team.build()


def test_the_first_unchecked_claim_of_a_chain_is_decisive():
    """closer (unchecked) relays reviewer (unchecked): the reviewer's claim is named, ahead of the first call."""
    trace = _relay()
    view = TraceView.build(trace, DEFAULT_CONFIG)
    reviewer = next(s for s in trace.steps if s.agent == "reviewer")
    closer = trace.steps[-1]
    assert first_vouch(view, closer) is reviewer
    verdict = judge_trace(trace)
    assert verdict.present()
    assert (verdict.decisive_step, verdict.decisive_agent) == (reviewer.index, "reviewer")


def test_a_claim_backed_by_the_claimers_own_check_is_no_relay():
    """The reviewer ran a search of its own before saying verified: its claim is no unchecked vouch, the chain
    stops at the closer, and the decisive step falls back to the team's first call."""
    trace = _relay(checked=True)
    view = TraceView.build(trace, DEFAULT_CONFIG)
    reviewer_claim = next(s for s in trace.steps if s.agent == "reviewer" and "verified" in s.content)
    assert all(v.claim is not reviewer_claim for v in vouches(view))
    assert first_vouch(view, trace.steps[-1]) is trace.steps[-1]
    verdict = judge_trace(trace)
    assert verdict.present()
    assert (verdict.decisive_agent, verdict.decisive_step) == ("solver", 1)


def test_verification_of_something_is_complete_is_a_claim():
    assert VOUCH.search("Verification of the stops and count is complete, the final answer is 6.")
    assert VOUCH.search("Verification is complete.")
    assert not VOUCH.search("Verification of the stops is the next step.")
