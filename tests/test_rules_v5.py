"""Rules v5 detectors on real runs from ../shared: a write whose returned record contradicts its own
arguments then reported as done (FM-3.3 in v5-v6, dropped in v7), and an autonomous team whose closing turn leaves an open
request, a promise or a give-up (FM-3.1). Each with a positive and a near miss."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import FIXTURES, require_fixtures
from rules_traces import assert_quotes_verify

import mastlens
from mastlens.judges.rules import judge_trace
from mastlens.judges.rules.config import DEFAULT_CONFIG
from mastlens.judges.rules.team_ending import is_autonomous_team, open_ending
from mastlens.judges.rules.view import TraceView
from mastlens.trace import Trace

TAU = "tau_bench"
WW = "who_and_when"


@pytest.fixture(autouse=True)
def _fixtures():
    require_fixtures()


@cache
def _trace(source: str, trace_id: str) -> Trace:
    return {t.id: t for t in mastlens.load_traces(str(FIXTURES / source))}[trace_id]


def _devset_trace(relative: str) -> Trace:
    path = FIXTURES.parent / "devsets" / relative
    if not path.exists():
        pytest.skip(f"dev set file {path} not found")
    return next(iter(mastlens.load_traces(str(path))))



def test_write_whose_record_contradicts_its_arguments_is_no_longer_incorrect_verification():
    """tau-13-0 (reward 0): ``update_reservation_flights`` asked for cabin economy, its returned record says
    basic_economy, and the agent tells the user the change went through. Rules v5-v6 called this FM-3.3;
    v7 drops that rule (on held-out tau-bench runs it flagged more successful runs than failed ones), so
    FM-3.3 is now decided by failed tool calls alone: this run has none it passed over."""
    trace = _trace(TAU, "tau-13-0")
    verdict = judge_trace(trace).modes["FM-3.3"]
    assert verdict.status.value != "present"
    assert "returned record" not in verdict.reason


def test_team_closing_turn_that_asks_a_teammate_then_terminates():
    """Who&When Algorithm-Generated/84: the closing turn asks a teammate to describe the board, and a bare
    TERMINATE follows: the team stopped on an open request."""
    trace = _trace(WW, "Algorithm-Generated/84")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    assert is_autonomous_team(view)
    ending = open_ending(view, DEFAULT_CONFIG.team_ending_sentences)
    assert ending is not None and ending.kind == "request"
    assert ending.words in ending.step.content and ending.words.endswith("?")
    assert trace.steps[-1].content.strip() == "TERMINATE" and ending.step.index < trace.steps[-1].index
    assert judge_trace(trace).modes["FM-3.1"].status.value == "present"
    assert_quotes_verify(trace, "FM-3.1")


def test_team_closing_turn_that_answers_is_no_open_ending():
    """Algorithm-Generated/102: the team's last turn gives its answer; FM-3.1 is assessed and absent. A
    tau-bench chat (a user speaks throughout) is no autonomous team."""
    trace = _trace(WW, "Algorithm-Generated/102")
    view = TraceView.build(trace, DEFAULT_CONFIG)
    assert is_autonomous_team(view) and open_ending(view, DEFAULT_CONFIG.team_ending_sentences) is None
    assert judge_trace(trace).modes["FM-3.1"].status.value == "absent"
    assert not is_autonomous_team(TraceView.build(_trace(TAU, "tau-13-0"), DEFAULT_CONFIG))


def test_team_that_gives_up():
    """Dev set Algorithm-Generated/55: the team cannot reach the paper and its closing turn says it cannot
    complete the task."""
    trace = _devset_trace("who_and_when/Algorithm-Generated/55.json")
    ending = open_ending(TraceView.build(trace, DEFAULT_CONFIG), DEFAULT_CONFIG.team_ending_sentences)
    assert ending is not None and ending.kind == "gave up" and ending.words in ending.step.content
    assert judge_trace(trace).modes["FM-3.1"].status.value == "present"
    assert_quotes_verify(trace, "FM-3.1")
