"""What real OpenTelemetry instrumentation emits, read by mastlens.

A small tool-using agent (tests/otel_agent_script.py: the ``openai`` SDK against the scripted server) runs
under OpenInference, the official GenAI instrumentation (opentelemetry-instrumentation-openai-v2 with
util-genai's agent and tool spans) and OpenLLMetry, each in a subprocess, in each content mode; the spans
and log events arrive over OTLP/HTTP protobuf at a receiver on 127.0.0.1 and are written as the JSON files
a user would export (tests/_otlp_capture.py). Two runs: a tool that fails and a final answer that still
claims success (FM-2.5, FM-3.3), and the same search made three times (FM-1.3).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from _otlp_capture import CONTENT_MODES, LIBRARIES, LIBRARY_MODULES, Recording, record
from conftest import IN_CI
from otel_agent_script import (
    FLIGHT_ANSWER, FLIGHT_ARGS, FLIGHT_RESULT, FLIGHT_TASK, MODEL, REFUND_ANSWER, REFUND_ARGS, REFUND_ERROR,
    REFUND_RESULT, REFUND_TASK,
)
from typer.testing import CliRunner

from mastlens.adapters.loader import FileResult, walk
from mastlens.cli.app import app
from mastlens.judges.rules.judge import DETECTORS, judge_trace
from mastlens.trace import ModeStatus, StepKind, Trace

def _missing_modules() -> list[str]:
    missing = []
    for module in ("opentelemetry.proto", "opentelemetry.sdk", *LIBRARY_MODULES.values()):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module)
    return missing


_MISSING = _missing_modules()
if _MISSING:
    _REASON = (f"OpenTelemetry instrumentation libraries not installed ({', '.join(_MISSING)}); "
               "pip install -e '.[test]' installs them (the otel-test extra)")
    if IN_CI:
        raise RuntimeError(_REASON)
    pytestmark = pytest.mark.skip(reason=_REASON)

# OpenInference has no event mode: its event_only run records content on spans as span_only does.
WITH_CONTENT = {(lib, mode) for lib in LIBRARIES for mode in ("span_only", "event_only")}
COMBOS = [(lib, mode) for lib in LIBRARIES for mode in CONTENT_MODES]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
runner = CliRunner()


_RECORDED: dict[tuple[str, str], Recording] = {}


def recorded(library: str, content: str, tmp_path_factory) -> Recording:
    """One agent run per library and mode for the whole module (each is a subprocess)."""
    if (library, content) not in _RECORDED:
        _RECORDED[library, content] = record(library, content, tmp_path_factory.mktemp(f"{library}-{content}"))
    return _RECORDED[library, content]


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{lib}-{mode}" for lib, mode in COMBOS])
def recording(request, tmp_path_factory) -> Recording:
    return recorded(*request.param, tmp_path_factory)


def read_all(*paths: Path, group_spans_by: str | None = None) -> list[Trace]:
    """What one ingest of ``paths`` reads (files of one call are joined), asserting no file failed."""
    traces: list[Trace] = []
    for result in walk(list(paths), group_spans_by=group_spans_by):
        assert isinstance(result, FileResult) and result.format == "otel", result
        assert not result.failures, [f.describe() for f in result.failures]
        traces += result.traces
    return traces


def exported(rec: Recording) -> tuple[Path, ...]:
    """The files a user would give: the traces export, and the logs export when there is one."""
    return (rec.traces_hex, rec.logs) if rec.logs else (rec.traces_hex,)


def by_session(traces: list[Trace], session: str) -> Trace:
    [trace] = [t for t in traces if t.metadata.get("session_id") == session]
    return trace


def status(trace: Trace, mode: str) -> ModeStatus:
    return judge_trace(trace).modes[mode].status


def test_the_model_server_saw_the_agent_loop(recording: Recording):
    """The runs really happened: 2 + 4 model calls per layout."""
    assert len(recording.requests) == 6 + 6 + 6
    assert recording.spans > 0
    assert (recording.log_records > 0) == (recording.library != "openinference" and recording.content == "event_only")


def test_failed_tool_then_success_claim(recording: Recording):
    if (recording.library, recording.content) not in WITH_CONTENT:
        pytest.skip("no content captured: see test_no_content_is_not_assessed")
    trace = by_session(read_all(*exported(recording)), "sess-refund-agent")
    assert trace.model == MODEL and trace.metadata["agents"] == ["support-agent"]
    assert HEX32.match(trace.metadata["otel"]["trace_id"]) and trace.id == trace.metadata["otel"]["trace_id"]
    user = [s for s in trace.steps if s.kind is StepKind.USER]
    assert [s.content for s in user] == [REFUND_TASK]
    [call] = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    assert (call.tool, call.arguments, call.agent) == ("issue_refund", REFUND_ARGS, "support-agent")
    [result] = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    assert result.call_id == call.call_id and json.loads(result.content) == REFUND_RESULT  # JSON kept as written
    assert result.metadata["is_error"] is True
    answers = [s for s in trace.steps if s.kind is StepKind.ASSISTANT]
    assert answers[-1].content == REFUND_ANSWER and answers[-1].agent == "support-agent"
    assert trace.steps.index(call) < trace.steps.index(result) < trace.steps.index(answers[-1])
    assert "content_captured" not in trace.metadata and "incomplete_run" not in trace.metadata
    verdict = judge_trace(trace)
    assert verdict.modes["FM-2.5"].status is ModeStatus.PRESENT
    assert verdict.modes["FM-3.3"].status is ModeStatus.PRESENT
    assert verdict.modes["FM-1.3"].status is not ModeStatus.PRESENT


def test_repeated_call(recording: Recording):
    if (recording.library, recording.content) not in WITH_CONTENT:
        pytest.skip("no content captured: see test_no_content_is_not_assessed")
    trace = by_session(read_all(*exported(recording)), "sess-flights-agent")
    assert trace.metadata["agents"] == ["travel-agent"]
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL]
    results = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
    assert [(c.tool, c.arguments, c.agent) for c in calls] == [("search_flights", FLIGHT_ARGS, "travel-agent")] * 3
    assert [json.loads(r.content) for r in results] == [FLIGHT_RESULT] * 3
    assert len({c.call_id for c in calls}) == 3 and [r.call_id for r in results] == [c.call_id for c in calls]
    assert not any(r.metadata.get("is_error") for r in results)
    assert [s.content for s in trace.steps if s.kind is StepKind.ASSISTANT][-1] == FLIGHT_ANSWER
    verdict = judge_trace(trace)
    assert verdict.modes["FM-1.3"].status is ModeStatus.PRESENT
    assert verdict.modes["FM-2.5"].status is ModeStatus.NOT_ASSESSED  # no failed call
    for mode in ("FM-1.5", "FM-3.1"):
        assert verdict.modes[mode].status is not ModeStatus.PRESENT


def test_no_content_is_not_assessed(recording: Recording):
    if (recording.library, recording.content) in WITH_CONTENT:
        pytest.skip("content captured")
    traces = read_all(*exported(recording))
    assert traces and all(t.metadata.get("content_captured") is False for t in traces)
    refund = by_session(traces, "sess-refund-agent")
    flights = by_session(traces, "sess-flights-agent")
    # what is known without content: the tools called, in order, by name; the agents
    assert [s.tool for s in refund.steps if s.kind is StepKind.TOOL_CALL] == ["issue_refund"]
    assert [s.tool for s in flights.steps if s.kind is StepKind.TOOL_CALL] == ["search_flights"] * 3
    assert flights.metadata["agents"] == ["travel-agent"] and flights.model == MODEL
    assert any("content not captured" in n for n in flights.metadata["notes"])
    for trace in traces:
        verdict = judge_trace(trace)
        for mode in DETECTORS:
            assert verdict.modes[mode].status is ModeStatus.NOT_ASSESSED, (trace.id, mode)


def test_base64_and_hex_exports_read_to_the_same_traces(recording: Recording):
    hex_traces = read_all(recording.traces_hex)
    b64_traces = read_all(recording.traces_b64)
    assert [t.id for t in b64_traces] == [t.id for t in hex_traces]
    assert [t.metadata["otel"] for t in b64_traces] == [t.metadata["otel"] for t in hex_traces]
    assert [[(s.kind, s.content, s.metadata.get("span_id")) for s in t.steps] for t in b64_traces] == \
        [[(s.kind, s.content, s.metadata.get("span_id")) for s in t.steps] for t in hex_traces]
    assert all(re.match(r"^[0-9a-f]{16}$", s.metadata["span_id"]) for t in hex_traces for s in t.steps
               if "span_id" in s.metadata)


def test_logs_joined_from_two_files_or_one(recording: Recording):
    if recording.logs is None:
        pytest.skip("this library and mode export no log events")
    alone = read_all(recording.traces_hex)
    assert all(t.metadata.get("content_captured") is False for t in alone)  # content is in the logs
    two = read_all(recording.traces_hex, recording.logs)
    one = read_all(recording.combined)
    assert [t.id for t in one] == [t.id for t in two]
    # without the logs there is no content to chain lone calls by: the runs with a root or a session are the same
    assert [t.id for t in two if "session_id" in t.metadata] == [t.id for t in alone if "session_id" in t.metadata]
    assert [[(s.kind, s.content) for s in t.steps] for t in one] == [[(s.kind, s.content) for s in t.steps] for t in two]
    assert status(by_session(two, "sess-refund-agent"), "FM-3.3") is ModeStatus.PRESENT


def test_lone_model_calls(recording: Recording):
    """The lone layout: model calls with no parent span and no session. With content, the calls of one run are
    chained by their continuing messages (call k+1's input is call k's input and output, then the tool
    results): two runs, not six traces, and each judged as a whole. Without content nothing chains them: one
    trace each, with a note, and a call that asked for a tool is no finished run."""
    results = [r for r in walk(list(exported(recording))) if isinstance(r, FileResult)]
    notes = [n for r in results for n in r.notes]
    traces = [t for r in results for t in r.traces if "session_id" not in t.metadata]
    if (recording.library, recording.content) not in WITH_CONTENT:
        assert any("stand alone" in n for n in notes)
        assert all(t.metadata["otel"]["spans"] == 1 for t in traces)
        return
    assert any("chained into" in n for n in notes), notes
    chained = [t for t in traces if len(t.metadata["otel"].get("trace_ids", [])) > 1]
    # the GenAI app's bare layout has no session attribute the reader knows (app.session): it chains too
    assert len(chained) == (4 if recording.library == "genai" else 2)
    refund = [t for t in chained if len(t.metadata["otel"]["trace_ids"]) == 2]
    flights = [t for t in chained if len(t.metadata["otel"]["trace_ids"]) == 4]
    assert len(refund) == len(flights) == len(chained) // 2
    for trace in flights:
        assert [s.tool for s in trace.steps if s.kind is StepKind.TOOL_CALL] == ["search_flights"] * 3
        assert [s.content for s in trace.steps if s.kind is StepKind.USER] == [FLIGHT_TASK]
        assert "incomplete_run" not in trace.metadata
        assert status(trace, "FM-1.3") is ModeStatus.PRESENT
    for trace in refund:
        assert [s.content for s in trace.steps if s.kind is StepKind.ASSISTANT][-1] == REFUND_ANSWER
        assert status(trace, "FM-2.5") is ModeStatus.PRESENT and status(trace, "FM-3.3") is ModeStatus.PRESENT
    assert not any(t.metadata.get("incomplete_run") for t in traces)


def test_runs_grouped_by_session(recording: Recording):
    """The bare layout: only model calls, tied by the library's session attribute (the GenAI app puts its run
    in an ``app.session`` attribute, named with --group-spans-by)."""
    key = "app.session" if recording.library == "genai" else None
    traces = read_all(*exported(recording), group_spans_by=key)
    refund = next(t for t in traces if t.id == "sess-refund-bare")
    flights = next(t for t in traces if t.id == "sess-flights-bare")
    assert len(refund.metadata["otel"]["trace_ids"]) == 2 and len(flights.metadata["otel"]["trace_ids"]) == 4
    assert all(HEX32.match(t) for t in flights.metadata["otel"]["trace_ids"])
    if (recording.library, recording.content) in WITH_CONTENT:
        assert [s.tool for s in flights.steps if s.kind is StepKind.TOOL_CALL] == ["search_flights"] * 3
        assert status(flights, "FM-1.3") is ModeStatus.PRESENT
        assert status(refund, "FM-2.5") is ModeStatus.PRESENT
    else:
        assert status(flights, "FM-1.3") is ModeStatus.NOT_ASSESSED


def test_ingest_joins_logs_and_groups_then_show_notes(tmp_path: Path, tmp_path_factory):
    """The CLI: ingest a traces and a logs file in one call with --group-spans-by; a no-content export's note
    is in ingest's output and in show."""
    events = recorded("genai", "event_only", tmp_path_factory)
    db = str(tmp_path / "m.db")
    done = runner.invoke(app, ["ingest", str(events.traces_b64), str(events.logs), "--db", db,
                               "--group-spans-by", "app.session"])
    assert done.exit_code == 0, done.output
    assert "joined to their spans" in done.output
    shown = runner.invoke(app, ["show", "sess-flights-bare", "--db", db, "--json"])
    [trace] = json.loads(shown.stdout)
    assert [s["tool"] for s in trace["steps"] if s["kind"] == "tool_call"] == ["search_flights"] * 3
    silent = recorded("traceloop", "none", tmp_path_factory)
    done = runner.invoke(app, ["ingest", str(silent.traces_hex), "--db", str(tmp_path / "n.db")])
    assert done.exit_code == 0 and "content not captured" in done.output
    shown = runner.invoke(app, ["show", "sess-flights-bare", "--db", str(tmp_path / "n.db")])
    assert shown.exit_code == 0 and "note: content not captured" in shown.output


def test_one_real_execute_tool_span_as_an_attribute_map(tmp_path: Path, tmp_path_factory):
    """Issue 14 item 5 on a real span: util-genai's execute_tool span of the flights run, its attributes saved
    as a flat map, is detected as otel and keeps its arguments and result."""
    from mastlens.adapters.loader import read_file
    from mastlens.adapters.otel.spans import attribute_map

    rec = recorded("genai", "span_only", tmp_path_factory)
    spans = [s for rs in json.loads(rec.traces_hex.read_text())["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"] if s["name"] == "execute_tool search_flights"]
    path = tmp_path / "execute_tool.json"
    path.write_text(json.dumps(attribute_map(spans[0]["attributes"])), encoding="utf-8")
    result = read_file(path)
    assert result.format == "otel" and not result.failures
    [trace] = result.traces
    call, answer = trace.steps
    assert (call.kind, call.tool, call.arguments) == (StepKind.TOOL_CALL, "search_flights", FLIGHT_ARGS)
    assert answer.kind is StepKind.TOOL_RESULT and json.loads(answer.content) == FLIGHT_RESULT


@pytest.mark.parametrize("library, content", [("genai", "event_only"), ("openinference", "span_only")])
@pytest.mark.parametrize("shape", ["error-object", "text"])
def test_tool_error_in_content_only(library: str, content: str, shape: str, tmp_path: Path):
    """Issue 25 item 3: a failed call whose result says so only in its content (``{"error": ...}``, ``Error:
    ...``) is marked failed in every layout, as the same result from a tool span with status ERROR is: the
    GenAI event-only export and the bare OpenInference export carry no tool span at all."""
    rec = record(library, content, tmp_path, "--layouts", "agent,bare", "--tool-error", shape)
    key = "app.session" if library == "genai" else None
    traces = read_all(*exported(rec), group_spans_by=key)
    for session in ("sess-refund-agent", "sess-refund-bare"):
        trace = by_session(traces, session) if session.endswith("agent") else \
            next(t for t in traces if t.id == session)
        [result] = [s for s in trace.steps if s.kind is StepKind.TOOL_RESULT]
        assert REFUND_ERROR in result.content
        assert result.metadata.get("is_error") is True, (session, result.content)
        assert status(trace, "FM-2.5") is ModeStatus.PRESENT
    flights = next(t for t in traces if t.id == "sess-flights-bare")
    assert not any(s.metadata.get("is_error") for s in flights.steps if s.kind is StepKind.TOOL_RESULT)


def test_error_text_in_a_result_is_read_narrowly():
    """What counts as an error line: a leading ``Error:`` / ``Exception:`` / traceback, error-shaped JSON (also
    JSON-encoded once); not a result that merely mentions errors."""
    from mastlens.adapters.tool_results import reports_error

    for failed in ("Error: payment gateway unavailable", "ERROR - disk full", "Traceback (most recent call last):\n",
                   '{"error": "timeout"}', '"{\\"ok\\": false}"', '{"error": {"code": 5}, "status": 500}'):
        assert reports_error(failed), failed
    for fine in ("errors found: 0", "No error.", '{"error": null, "data": [1]}', '{"result": "Error: quoted"}',
                 "The error rate is 2%", '[{"error": "x"}]'):
        assert not reports_error(fine), fine
