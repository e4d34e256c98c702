"""Golden tests of the Who&When adapter: the real records, their attribution mapped to our step index."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mastlens.adapters.loader import read_file
from mastlens.cli.app import app
from mastlens.trace import StepKind

# file -> (history length, speakers, mistake agent, mistake step in the history)
FACTS = {
    "Algorithm-Generated/1.json": (6, {"Computer_terminal": 2, "DataVerification_Expert": 2, "Excel_Expert": 1,
                                       "BusinessLogic_Expert": 1}, "Excel_Expert", 0),
    "Algorithm-Generated/84.json": (9, {"Chess_Expert": 4, "Computer_terminal": 3, "ChessRules_Expert": 2},
                                    "Chess_Expert", 7),
    "Algorithm-Generated/102.json": (10, {"IMDB_Ratings_Expert": 4, "Filmography_Expert": 2,
                                          "StreamingAvailability_Expert": 2, "Computer_terminal": 2},
                                     "Filmography_Expert", 1),
    "Hand-Crafted/6.json": (8, {"Orchestrator (thought)": 4, "human": 1, "Orchestrator (-> WebSurfer)": 1,
                                "WebSurfer": 1, "Orchestrator (termination condition)": 1}, "Orchestrator", 5),
    "Hand-Crafted/33.json": (9, {"Orchestrator (thought)": 4, "Orchestrator (-> WebSurfer)": 2, "WebSurfer": 2,
                                 "human": 1}, "WebSurfer", 8),
    "Hand-Crafted/43.json": (16, {"Orchestrator (thought)": 8, "Orchestrator (-> WebSurfer)": 2, "WebSurfer": 2,
                                  "human": 1, "Orchestrator (-> Assistant)": 1, "Assistant": 1,
                                  "Orchestrator (termination condition)": 1}, "Assistant", 12),
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_record_and_attribution(fixtures_dir, name):
    n_history, speakers, agent, history_step = FACTS[name]
    result = read_file(fixtures_dir / "who_and_when" / name)
    assert result.format == "whowhen" and not result.failures
    [trace] = result.traces
    subset, stem = name.removesuffix(".json").split("/")
    assert trace.id == f"{subset}/{stem}"
    # every history entry gives one message step; code an executor ran adds a call step with the same index
    history = [s for s in trace.steps if "history_index" in s.metadata and s.kind is not StepKind.TOOL_CALL]
    assert len(history) == n_history
    assert sorted({s.metadata["history_index"] for s in trace.steps if "history_index" in s.metadata}) == \
        list(range(n_history))
    counted: dict[str, int] = {}
    for step in history:
        counted[step.metadata["speaker"]] = counted.get(step.metadata["speaker"], 0) + 1
    assert counted == speakers
    attribution = trace.metadata["attribution"]
    assert attribution["mistake_agent"] == agent and attribution["history_index"] == history_step
    decisive = trace.steps[attribution["step"]]
    assert decisive.metadata["history_index"] == history_step
    assert decisive.agent == agent or decisive.agent.startswith(agent)
    assert attribution["reason"]
    assert (trace.outcome.success, trace.outcome.score, trace.outcome.success_from) == (False, 0.0, "source")
    n_system = sum(s.kind is StepKind.SYSTEM for s in trace.steps)
    n_calls_before = sum(s.kind is StepKind.TOOL_CALL for s in trace.steps[:attribution["step"]])
    assert attribution["step"] == n_system + history_step + n_calls_before
    assert (n_system > 0) == (subset == "Algorithm-Generated")


def test_speaker_roles(fixtures_dir):
    [ag] = read_file(fixtures_dir / "who_and_when/Algorithm-Generated/84.json").traces
    # The executor's messages: results of the code the message before ran (paired with a call from that
    # message, exit code kept), or an event when that message held no code (nothing ran).
    terminal = [s for s in ag.steps if s.agent == "Computer_terminal"]
    assert [s.kind for s in terminal] == [StepKind.EVENT, StepKind.EVENT, StepKind.TOOL_RESULT]
    [result] = [s for s in terminal if s.kind is StepKind.TOOL_RESULT]
    assert (result.metadata["exit_code"], result.metadata["is_error"]) == (1, True)
    [call] = [s for s in ag.steps if s.call_id == result.call_id and s.kind is StepKind.TOOL_CALL]
    assert call.agent == "Chess_Expert" and call.index < result.index and call.content.strip()
    assert call.content in ag.steps[call.index - 1].content  # the code as written in the message that ran it
    assert ag.metadata["ground_truth"] == "Rd5" and ag.metadata["level"] == "1"
    [hc] = read_file(fixtures_dir / "who_and_when/Hand-Crafted/6.json").traces
    assert hc.steps[0].kind is StepKind.USER
    routed = [s for s in hc.steps if s.metadata.get("addressed_to")]
    assert [(s.agent, s.metadata["addressed_to"]) for s in routed] == [("Orchestrator", "WebSurfer")]
    assert hc.system == "magentic-one" and ag.system == "ag2-captainagent"


def test_attribution_visible_in_show_json(fixtures_dir):
    path = fixtures_dir / "who_and_when/Hand-Crafted/43.json"
    result = CliRunner().invoke(app, ["show", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    [trace] = json.loads(result.stdout)
    assert trace["metadata"]["attribution"]["step"] == 12
    assert trace["metadata"]["attribution"]["mistake_agent"] == "Assistant"
