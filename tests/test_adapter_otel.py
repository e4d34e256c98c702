"""Golden tests of the OpenTelemetry adapter: the real OpenInference / GenAI / Vercel fixtures, plus an
OTLP/JSON multi-agent export built here from the OTLP 1.5.0 JSON encoding (no real one is licensed)."""

from __future__ import annotations

import json
from pathlib import Path

from _otel_data import AGENT, LLM2, TOOL, TRACE_ID, otlp_agent_export
from _read import read_as

from mastlens.adapters.loader import read_file
from mastlens.trace import StepKind

OI = "openinference"


def read(path: Path):
    return read_as(path, "otel")


def steps_of(trace):
    return [(s.kind, s.tool, s.content) for s in trace.steps]


def test_openinference_attribute_map(fixtures_dir):
    [trace] = read(fixtures_dir / OI / "openinference_client_span_tool_calls.json").traces
    assert trace.id == "openinference_client_span_tool_calls"
    assert trace.model == "gpt-4-0613"
    assert [s.kind for s in trace.steps] == [StepKind.USER, StepKind.ASSISTANT, StepKind.TOOL_CALL,
                                             StepKind.TOOL_RESULT, StepKind.ASSISTANT]
    call, result = trace.steps[2], trace.steps[3]
    assert (call.tool, call.call_id, call.arguments) == ("get_weather", "1234", {"location": "Paris"})
    assert (result.tool, result.call_id, result.content) == ("get_weather", "1234", "rainy, 57°F")
    assert trace.steps[-1].content.startswith("The weather in Paris is currently rainy")
    assert trace.steps[-1].tokens == 52
    assert [s.index for s in trace.steps] == list(range(5))


def test_genai_attribute_map_reads_the_same_conversation(fixtures_dir):
    [oi] = read(fixtures_dir / OI / "openinference_client_span_tool_calls.json").traces
    [genai] = read(fixtures_dir / OI / "otel_genai_client_span_tool_calls.json").traces
    assert steps_of(genai) == steps_of(oi)
    assert genai.model == "gpt-4-0613"  # the response model wins over the requested gpt-4
    assert genai.steps[2].arguments == {"location": "Paris"} and genai.steps[-1].tokens == 52


def test_vercel_spans_one_trace_per_trace_id_and_embeddings_skipped(fixtures_dir):
    result = read(fixtures_dir / OI / "vercel_ai_sdk_v6_all-spans.json")
    assert len(result.traces) == 8  # 10 spans, 10 trace ids, 2 of them embeddings only
    skipped = [n for n in result.notes if "no messages or tool calls" in n]
    assert len(skipped) == 2
    assert any("045d21a7f69972edf509fe0ff911f3f5" in n for n in skipped)
    assert any("91621bbaaf1920e94ae594e91b3a99fd" in n for n in skipped)
    by_id = {t.id: t for t in result.traces}
    haiku = by_id["b3e700af9eab81e19f72f964d62a35af"]
    assert [s.kind for s in haiku.steps] == [StepKind.USER, StepKind.ASSISTANT]
    assert haiku.steps[0].content == "Write a haiku about programming."
    assert haiku.steps[1].tokens == 20 and haiku.model == "gpt-4o-mini-2024-07-18"
    assert haiku.metadata["otel"] == {"trace_id": "b3e700af9eab81e19f72f964d62a35af",
                                      "root_span_id": "39d6e9b3ddec9996",
                                      "root_span_name": "ai.generateText.doGenerate", "spans": 1}
    assert haiku.steps[0].timestamp.startswith("2026-02-03T15:19:52")
    chat = by_id["edff2fc5854be6170e8cccccec0c82cf"]
    assert [s.kind for s in chat.steps] == [StepKind.SYSTEM, StepKind.USER, StepKind.ASSISTANT, StepKind.USER,
                                            StepKind.ASSISTANT]
    assert chat.steps[-1].content == "3 + 3 equals 6."
    wrapper = by_id["673a889f59126f8b4c90dce5a1f99368"]  # ai.generateText: prompt in the ai.prompt wrapper
    assert [s.content for s in wrapper.steps] == [s.content for s in chat.steps]
    recipe = by_id["8f60802815d6e97da2dbc4708a8e5c7b"]
    assert json.loads(recipe.steps[-1].content)["name"] == "Scrambled Eggs"


def test_otlp_json_export_multi_span_agent(tmp_path: Path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(otlp_agent_export()), encoding="utf-8")
    [trace] = read(path).traces
    assert trace.id == TRACE_ID and trace.system == "sre-agent" and trace.model == "gpt-4.1"
    kinds = [s.kind for s in trace.steps]
    # the second LLM span repeats the history and the tool exchange: each appears once
    assert kinds == [StepKind.USER, StepKind.ASSISTANT, StepKind.TOOL_CALL, StepKind.TOOL_RESULT, StepKind.ERROR,
                     StepKind.ASSISTANT]
    call, result, error, final = trace.steps[2], trace.steps[3], trace.steps[4], trace.steps[5]
    assert call.call_id == result.call_id == "call_1" and call.arguments == {"service": "checkout"}
    assert result.metadata["span_id"] == TOOL and result.metadata["is_error"] is True
    assert error.content == "metrics backend timed out"
    assert final.tokens == 17 and final.metadata["span_id"] == LLM2 and final.metadata["parent_span_id"] == AGENT
    assert {s.agent for s in trace.steps if s.kind in (StepKind.ASSISTANT, StepKind.TOOL_CALL)} == {"planner"}
    assert trace.metadata["otel"]["root_span_id"] == AGENT and trace.metadata["otel"]["spans"] == 4
    assert trace.metadata["session_id"] == "sess-42"


def test_flat_phoenix_style_spans_and_jsonl_exports(tmp_path: Path):
    spans = [{"name": "llm", "context": {"trace_id": "t-1", "span_id": "s-1"}, "span_kind": "LLM",
              "parent_id": None, "start_time": "2025-01-01T00:00:00+00:00", "end_time": "2025-01-01T00:00:01+00:00",
              "status_code": "OK",
              "attributes": {"llm": {"model_name": "m-1", "input_messages": [
                  {"message": {"role": "user", "content": "hi"}}],
                  "output_messages": [{"message": {"role": "assistant", "content": "hello"}}]}}}]
    flat = tmp_path / "phoenix.json"
    flat.write_text(json.dumps({"data": spans}), encoding="utf-8")
    [trace] = read(flat).traces
    assert (trace.id, trace.model, [s.content for s in trace.steps]) == ("t-1", "m-1", ["hi", "hello"])
    lines = tmp_path / "otlp.jsonl"
    lines.write_text(json.dumps(otlp_agent_export()) + "\n", encoding="utf-8")
    [again] = read(lines).traces
    assert len(again.steps) == 6


def test_spans_without_ids_fail_with_a_record(tmp_path: Path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"name": "x", "spanContext": {"traceId": "abc"}, "attributes": {}}]))
    result = read_file(path)
    assert result.format == "otel" and not result.traces
    assert "span without a trace id and span id" in result.failures[0].reason and result.failures[0].record == 0


def test_tool_span_without_a_model_call_and_nested_agents(tmp_path: Path):
    """OpenInference spans in a JS-SDK dump: a supervisor agent hands off to a researcher agent whose TOOL span
    runs with no LLM span recording the call; the step's agent is the nearest AGENT span above it."""
    def span(span_id, parent, name, start, attributes):
        return {"name": name, "spanContext": {"traceId": "c" * 32, "spanId": span_id}, "parentSpanId": parent,
                "startTime": [1_770_000_000, start * 1_000_000], "endTime": [1_770_000_001, 0],
                "attributes": attributes, "status": {"code": 0}, "events": []}
    spans = [
        span("1" * 16, None, "supervisor", 0, {"openinference.span.kind": "AGENT", "input.value": "go"}),
        span("2" * 16, "1" * 16, "researcher", 1, {"openinference.span.kind": "AGENT"}),
        span("3" * 16, "2" * 16, "search", 2, {"openinference.span.kind": "TOOL", "tool.name": "search",
                                              "tool.parameters": '{"type": "object"}',
                                              "input.value": '{"q": "MAST taxonomy"}', "output.value": "14 modes"}),
        span("4" * 16, "1" * 16, "embed", 3, {"openinference.span.kind": "EMBEDDING"}),
    ]
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(spans), encoding="utf-8")
    [trace] = read(path).traces
    assert [(s.kind, s.agent, s.tool) for s in trace.steps] == [
        (StepKind.TOOL_CALL, "researcher", "search"), (StepKind.TOOL_RESULT, None, "search")]
    assert trace.steps[0].arguments == {"q": "MAST taxonomy"} and trace.steps[1].content == "14 modes"
    assert trace.metadata["otel"]["root_span_id"] == "1" * 16
    assert trace.metadata["agents"] == ["supervisor", "researcher"]


def test_langfuse_observation_export(tmp_path: Path):
    """Observations as the Langfuse API lists them: ids, parentObservationId, type, input/output, model."""
    def obs(oid, parent, kind, name, start, **fields):
        return {"id": oid, "traceId": "lf-trace-1", "parentObservationId": parent, "type": kind, "name": name,
                "startTime": f"2025-06-01T10:00:0{start}.000Z", "endTime": f"2025-06-01T10:00:0{start}.500Z",
                "level": "DEFAULT", "statusMessage": None, **fields}
    observations = [
        obs("o1", None, "AGENT", "triage-agent", 0, input="Is the cart service down?", output=None),
        obs("o2", "o1", "GENERATION", "chat", 1, model="gpt-4.1-mini", usageDetails={"input": 30, "output": 12},
            input=[{"role": "system", "content": "You triage incidents."},
                   {"role": "user", "content": "Is the cart service down?"}],
            output={"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "get_pods", "arguments": '{"namespace": "cart"}'}}]}),
        obs("o3", "o1", "TOOL", "get_pods", 2, input={"namespace": "cart"}, output="cart-0 CrashLoopBackOff",
            level="ERROR", statusMessage="pod not ready"),
        obs("o4", "o1", "GENERATION", "chat", 3, model="gpt-4.1-mini", usageDetails={"output": 9},
            input=[{"role": "user", "content": "Is the cart service down?"}],
            output={"role": "assistant", "content": "Yes: cart-0 is crash-looping."}),
    ]
    path = tmp_path / "langfuse.json"
    path.write_text(json.dumps({"data": observations, "meta": {"page": 1}}), encoding="utf-8")
    [trace] = read(path).traces
    assert trace.id == "lf-trace-1" and trace.model == "gpt-4.1-mini"
    assert [s.kind for s in trace.steps] == [StepKind.SYSTEM, StepKind.USER, StepKind.TOOL_CALL,
                                             StepKind.TOOL_RESULT, StepKind.ERROR, StepKind.ASSISTANT]
    call, result, error, answer = trace.steps[2:]
    assert (call.tool, call.call_id, call.arguments, call.agent) == ("get_pods", "call_9", {"namespace": "cart"},
                                                                    "triage-agent")
    assert (result.call_id, result.content, result.metadata["is_error"]) == ("call_9", "cart-0 CrashLoopBackOff",
                                                                             True)
    assert error.content == "pod not ready"
    assert answer.content == "Yes: cart-0 is crash-looping." and answer.tokens == 9
    assert trace.metadata["otel"]["root_span_id"] == "o1" and trace.metadata["otel"].get("trace_id") is None


def test_single_genai_tool_execution_span_map(tmp_path: Path):
    """One execute_tool span's flat gen_ai.* attribute map (GenAI semantic conventions 1.37): detected as otel,
    with its call id, arguments (a JSON string or a nested object) and result kept."""
    span = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_7", "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": '{"location": "Paris"}', "gen_ai.tool.call.result": "rainy, 57°F"}
    path = tmp_path / "tool_span.json"
    path.write_text(json.dumps(span), encoding="utf-8")
    [trace] = read(path).traces
    assert [(s.kind, s.tool, s.call_id) for s in trace.steps] == [(StepKind.TOOL_CALL, "get_weather", "call_7"),
                                                                   (StepKind.TOOL_RESULT, "get_weather", "call_7")]
    assert trace.steps[0].arguments == {"location": "Paris"} and trace.steps[1].content == "rainy, 57°F"
    nested = {**span, "gen_ai.tool.call.arguments": {"location": "Paris", "units": {"temp": "F"}},
              "gen_ai.tool.call.result": {"forecast": "rainy"}}
    path.write_text(json.dumps(nested), encoding="utf-8")
    [trace] = read(path).traces
    assert trace.steps[0].arguments == {"location": "Paris", "units": {"temp": "F"}}
    assert json.loads(trace.steps[1].content) == {"forecast": "rainy"}


def test_json_message_content_is_text(tmp_path: Path):
    """A message whose content string parses as JSON (a tool's error object, an assistant's JSON answer) keeps
    it as written, and a tool result reporting failure in its structure is a failed result."""
    attrs = {"openinference.span.kind": "LLM", "llm.model_name": "m",
             "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "go",
             "llm.input_messages.1.message.role": "assistant",
             "llm.input_messages.1.message.tool_calls.0.tool_call.id": "c1",
             "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "pay",
             "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{}",
             "llm.input_messages.2.message.role": "tool", "llm.input_messages.2.message.tool_call_id": "c1",
             "llm.input_messages.2.message.content": '{"ok": false, "error": "card declined"}',
             "llm.output_messages.0.message.role": "assistant",
             "llm.output_messages.0.message.content": '["a", "b"]'}
    path = tmp_path / "span.json"
    path.write_text(json.dumps(attrs), encoding="utf-8")
    [trace] = read(path).traces
    result = trace.steps[2]
    assert result.content == '{"ok": false, "error": "card declined"}' and result.metadata["is_error"] is True
    assert trace.steps[-1].content == '["a", "b"]'


def test_formats_documents_the_conventions_and_versions_covered():
    from typer.testing import CliRunner

    from mastlens.cli.app import app

    done = CliRunner().invoke(app, ["formats", "--json"])
    [otel] = [f for f in json.loads(done.stdout) if f["name"] == "otel"]
    for covered in ("OpenInference", "GenAI semantic conventions", "OpenLLMetry", "resourceLogs",
                    "openinference-instrumentation-openai 0.1.66", "opentelemetry-instrumentation-openai-v2 2.4b0",
                    "traceloop-sdk 0.62.4", "--group-spans-by"):
        assert covered in otel["description"] + otel["detects"], covered


def test_no_content_trace_note_reaches_the_report_drilldown(tmp_path: Path):
    """A trace read without content carries its note to the report's drill-down, and the rules judge answers
    not assessed on every mode it has a detector for."""
    from mastlens.judges.rules.judge import DETECTORS, judge_trace
    from mastlens.report.drilldown import build_trace_view
    from mastlens.trace import ModeStatus

    export = otlp_agent_export()
    for span in export["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # as an export without content capture
        span["attributes"] = [kv for kv in span["attributes"] if kv["key"] not in (
            "gen_ai.input.messages", "gen_ai.output.messages", "input.value", "output.value")]
    path = tmp_path / "silent.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    [trace] = read(path).traces
    assert trace.metadata["content_captured"] is False
    assert [s.tool for s in trace.steps if s.kind is StepKind.TOOL_CALL] == ["query_metrics"]
    verdict = judge_trace(trace)
    assert all(verdict.modes[m].status is ModeStatus.NOT_ASSESSED for m in DETECTORS)
    view = build_trace_view(trace, anchor="t0", group="g", group_key="g", success=None, verdict=verdict,
                            status="ok", error=None, mode_names={})
    assert any("content not captured" in n for n in view.notes)
