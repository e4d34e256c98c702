"""Golden tests of the tau-bench adapter against the real airline trajectories (facts from the fixtures README)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from mastlens.adapters.loader import read_file
from mastlens.trace import StepKind

TAU = Path("tau_bench") / "gpt-4o-airline.subset.json"
_FACT = re.compile(
    r"^- record (?P<record>\d+): task_id=(?P<task>\d+), trial=(?P<trial>\d+), reward=(?P<reward>[\d.]+), "
    r"(?P<messages>\d+) messages \(roles (?P<roles>[^)]*)\), (?P<calls>\d+) tool calls \((?P<tools>[^)]*)\), "
    r"user_id=(?P<user>\S+)$"
)


def _counts(text: str) -> Counter:
    return Counter({k: int(v) for k, v in (p.split("=") for p in text.split(", ") if p)})


def readme_facts(fixtures_dir: Path) -> list[dict]:
    lines = (fixtures_dir / "README.md").read_text(encoding="utf-8").splitlines()
    facts = [m.groupdict() for m in map(_FACT.match, lines) if m]
    assert len(facts) == 15, "the fixtures README lists 15 tau-bench records"
    return facts


def test_every_record_matches_the_readme(fixtures_dir):
    result = read_file(fixtures_dir / TAU)
    assert result.format == "tau" and result.failures == []
    assert len(result.traces) == 15
    for fact, trace in zip(readme_facts(fixtures_dir), result.traces):
        assert trace.id == f"tau-{fact['task']}-{fact['trial']}"
        assert trace.source.record == int(fact["record"])
        assert trace.outcome.score == float(fact["reward"])
        assert trace.outcome.success is (float(fact["reward"]) == 1.0)
        assert trace.outcome.success_from == "source"
        assert trace.metadata["user_id"] == fact["user"]
        calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
        assert len(calls) == int(fact["calls"])
        assert Counter(s.tool for s in calls) == _counts(fact["tools"])
        roles = _counts(fact["roles"])
        kinds = Counter(s.kind for s in trace.steps)
        assert kinds[StepKind.SYSTEM] == roles["system"] == 1
        assert kinds[StepKind.USER] == roles["user"]
        assert kinds[StepKind.TOOL_RESULT] == roles["tool"]
        assert [s.index for s in trace.steps] == list(range(len(trace.steps)))


def test_model_task_and_tool_pairing(fixtures_dir):
    trace = read_file(fixtures_dir / TAU).traces[0]
    assert trace.model is None  # the records do not name it; a file name is no evidence
    assert trace.task == "airline/10" and trace.system == "tau-bench"
    assert trace.metadata["environment"] == "airline"
    assert [a["name"] for a in trace.metadata["expected_actions"]] == ["cancel_reservation", "book_reservation"]
    first_call = next(s for s in trace.steps if s.kind is StepKind.TOOL_CALL)
    assert first_call.tool == "get_reservation_details"
    assert first_call.arguments == {"reservation_id": "H9ZU1C"}  # the JSON string decoded
    result = next(s for s in trace.steps if s.kind is StepKind.TOOL_RESULT)
    assert result.call_id == first_call.call_id and result.tool == "get_reservation_details"
    assert trace.outcome.metrics == {"r_actions": 0.0}


def test_bad_record_is_reported_and_the_rest_read(tmp_path, fixtures_dir):
    records = json.loads((fixtures_dir / TAU).read_text(encoding="utf-8"))[:3]
    records[1] = {"task_id": 99, "reward": 1.0}  # no traj
    path = tmp_path / "gpt-4o-airline.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    result = read_file(path)
    assert [t.id for t in result.traces] == ["tau-10-0", "tau-12-0"]
    (failure,) = result.failures
    assert failure.record == 1 and failure.format == "tau" and "no traj" in failure.reason


@pytest.mark.parametrize("trial, expected", [(3, "tau-7-3"), (None, "tau-7")])
def test_ids_with_and_without_trial(tmp_path, trial, expected):
    record = {"task_id": 7, "reward": 0.5, "info": {}, "traj": [{"role": "user", "content": "hi"}]}
    if trial is not None:
        record["trial"] = trial
    path = tmp_path / "results.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    (trace,) = read_file(path).traces
    assert trace.id == expected and trace.model is None and trace.outcome.success is False


def test_no_model_is_invented_from_a_file_name(tmp_path, fixtures_dir):
    """A docent export named docent_tb_airline.json used to get model "docent_tb"."""
    path = tmp_path / "docent_tb_airline.json"
    path.write_bytes((fixtures_dir / TAU).read_bytes())
    traces = read_file(path).traces
    assert len(traces) == 15 and {t.model for t in traces} == {None}
    assert {t.metadata["environment"] for t in traces} == {"airline"} and traces[0].task == "airline/10"
