"""A small tool-using agent, traced by a real OpenTelemetry instrumentation library, for the OTel adapter tests.

Run by the tests in a subprocess (instrumentors patch the ``openai`` module globally, so each library gets a
process of its own)::

    python tests/otel_agent_script.py LIBRARY CONTENT --openai URL --otlp URL

LIBRARY is ``openinference``, ``genai`` (opentelemetry-instrumentation-openai-v2 with opentelemetry-util-genai's
agent and tool spans) or ``traceloop`` (OpenLLMetry); CONTENT is ``span_only``, ``event_only`` or ``none``.
The agent talks to the scripted Chat Completions server at ``--openai`` and every span (and GenAI log event) is
exported over OTLP/HTTP protobuf to ``--otlp``. Three layouts of the same two runs are recorded:

* ``agent``: an agent span around each run, a tool span around each tool call, a session id;
* ``bare``: only the instrumented model calls, with the session (or conversation) id the library propagates;
* ``lone``: only the instrumented model calls of one run, nothing tying them together.

The constants at the top are the scenario, shared with the tests and the scripted server.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

MODEL = "gpt-4o-mini"
SYSTEM = "You are a helpful assistant. Use the tools."
REFUND_TASK = "Please refund order 42."
REFUND_ARGS = {"order_id": 42}
REFUND_ERROR = "payment gateway unavailable"
REFUND_RESULT = {"ok": False, "error": REFUND_ERROR}  # what the loop hands back to the model
# other agent loops hand a failure back in other shapes (--tool-error): only the content says it failed
TOOL_ERROR_CONTENT = {"json": json.dumps(REFUND_RESULT), "error-object": json.dumps({"error": REFUND_ERROR}),
                      "text": f"Error: {REFUND_ERROR}"}
REFUND_ANSWER = "Your refund for order 42 has been processed successfully."
FLIGHT_TASK = "Find me a flight from SFO to JFK on 2025-05-03."
FLIGHT_ARGS = {"origin": "SFO", "destination": "JFK", "date": "2025-05-03"}
FLIGHT_RESULT = [{"flight": "UA 100", "price": 320}]
FLIGHT_ANSWER = "The cheapest flight from SFO to JFK on May 3 is UA 100 at $320."
# (run name, agent name, session id, task)
RUNS = [("refund", "support-agent", "sess-refund", REFUND_TASK),
        ("flights", "travel-agent", "sess-flights", FLIGHT_TASK)]
LAYOUTS = ("agent", "bare", "lone")
TOOLS = [
    {"type": "function", "function": {"name": "issue_refund", "description": "Refund an order.",
                                      "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "search_flights", "description": "Search flights.",
                                      "parameters": {"type": "object", "properties": {
                                          "origin": {"type": "string"}, "destination": {"type": "string"},
                                          "date": {"type": "string"}}}}},
]


class ToolFailed(RuntimeError):
    pass


def issue_refund(order_id: int) -> dict[str, Any]:
    raise ToolFailed(REFUND_ERROR)


def search_flights(origin: str, destination: str, date: str) -> list[dict[str, Any]]:
    return FLIGHT_RESULT


IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {"issue_refund": issue_refund, "search_flights": search_flights}

# A tracer's wrappers: agent(name, session, task, body) runs body() inside an agent span and returns its answer;
# tool(name, call_id, arguments) runs the tool inside a tool span (raising what it raises); session(id) is a
# context manager that ties model calls to a session without an agent span.
AgentWrap = Callable[[str, str, str, Callable[[], str]], str]
ToolWrap = Callable[[str, str, dict[str, Any]], Any]


def agent_loop(client: Any, task: str, run_tool: ToolWrap, tool_error: str = "json") -> str:
    """Chat until the model answers without a tool call; a failing tool's error goes back as its content
    (``TOOL_ERROR_CONTENT[tool_error]``)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]
    for _ in range(10):
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        message = response.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content or ""
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            try:
                content = json.dumps(run_tool(call.function.name, call.id, arguments))
            except ToolFailed:
                content = TOOL_ERROR_CONTENT[tool_error]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
    raise RuntimeError("the agent did not finish in 10 turns")


def plain_tool(name: str, call_id: str, arguments: dict[str, Any]) -> Any:
    return IMPLEMENTATIONS[name](**arguments)


def _providers(otlp: str, logs: bool):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": "mastlens-otel-test"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces")))
    logger_provider = None
    if logs:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{otlp}/v1/logs")))
    return tracer_provider, logger_provider


def setup_openinference(content: str, otlp: str):
    from openinference.instrumentation import OITracer, TraceConfig, using_session
    from openinference.instrumentation.openai import OpenAIInstrumentor

    tracer_provider, _ = _providers(otlp, logs=False)
    hidden = content == "none"  # OpenInference records content on spans only; it has no event mode
    config = TraceConfig(hide_inputs=hidden, hide_outputs=hidden)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, config=config)
    tracer = OITracer(tracer_provider.get_tracer("mastlens.otel_agent"), config=config)

    def agent(name: str, session: str, task: str, body: Callable[[], str]) -> str:
        with using_session(session), tracer.start_as_current_span(name, openinference_span_kind="agent") as span:
            span.set_input(task)
            answer = body()
            span.set_output(answer)
            return answer

    def tool(name: str, call_id: str, arguments: dict[str, Any]) -> Any:
        return tracer.tool(name=name)(IMPLEMENTATIONS[name])(**arguments)

    return agent, tool, using_session, [tracer_provider]


SESSION_BAGGAGE = "app.session"


def _session_from_baggage():
    """A span processor copying the ``app.session`` baggage entry onto each span (what
    opentelemetry-processor-baggage does): how an app without agent spans tags its model calls with a run."""
    from opentelemetry import baggage
    from opentelemetry.sdk.trace import SpanProcessor

    class SessionFromBaggage(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            value = baggage.get_baggage(SESSION_BAGGAGE, parent_context)
            if value:
                span.set_attribute(SESSION_BAGGAGE, str(value))

    return SessionFromBaggage()


def setup_genai(content: str, otlp: str):
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    if content == "none":
        os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
    else:
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = content.upper()
    if content == "event_only":
        os.environ["OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"] = "true"
    from opentelemetry import baggage
    from opentelemetry import context as otel_context
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.util.genai.handler import TelemetryHandler

    tracer_provider, logger_provider = _providers(otlp, logs=True)
    tracer_provider.add_span_processor(_session_from_baggage())
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    handler = TelemetryHandler(tracer_provider=tracer_provider, logger_provider=logger_provider)

    def agent(name: str, session: str, task: str, body: Callable[[], str]) -> str:
        with handler.invoke_local_agent(agent_name=name, request_model=MODEL) as invocation:
            invocation.conversation_id = session
            return body()

    def tool(name: str, call_id: str, arguments: dict[str, Any]) -> Any:
        with handler.tool(name, tool_call_id=call_id, tool_type="function") as invocation:
            invocation.arguments = arguments
            result = IMPLEMENTATIONS[name](**arguments)
            invocation.tool_result = result
            return result

    @contextmanager
    def session(session_id: str):
        token = otel_context.attach(baggage.set_baggage(SESSION_BAGGAGE, session_id))
        try:
            yield
        finally:
            otel_context.detach(token)

    return agent, tool, session, [tracer_provider, logger_provider]


def setup_traceloop(content: str, otlp: str):
    os.environ.update({"TRACELOOP_TELEMETRY": "false", "TRACELOOP_METRICS_ENABLED": "false",
                       "TRACELOOP_TRACE_CONTENT": "false" if content == "none" else "true"})
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import agent as traceloop_agent
    from traceloop.sdk.decorators import tool as traceloop_tool

    tracer_provider, logger_provider = _providers(otlp, logs=content == "event_only")
    if logger_provider is not None:  # the events path logs through the global logger provider
        set_logger_provider(logger_provider)
    exporter = tracer_provider._active_span_processor._span_processors[0].span_exporter
    Traceloop.init(app_name="mastlens-otel-test", processor=SimpleSpanProcessor(exporter),
                   telemetry_enabled=False, use_attributes=content != "event_only")

    @contextmanager
    def session(session_id: str):
        Traceloop.set_association_properties({"session_id": session_id})
        yield
        Traceloop.set_association_properties({})

    def agent(name: str, session_id: str, task: str, body: Callable[[], str]) -> str:
        with session(session_id):
            return traceloop_agent(name=name)(lambda task: body())(task)

    def tool(name: str, call_id: str, arguments: dict[str, Any]) -> Any:
        return traceloop_tool(name=name)(IMPLEMENTATIONS[name])(**arguments)

    return agent, tool, session, [p for p in (logger_provider,) if p is not None]


SETUPS = {"openinference": setup_openinference, "genai": setup_genai, "traceloop": setup_traceloop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library", choices=sorted(SETUPS))
    parser.add_argument("content", choices=("span_only", "event_only", "none"))
    parser.add_argument("--openai", required=True, help="base URL of the Chat Completions server")
    parser.add_argument("--otlp", required=True, help="base URL of the OTLP/HTTP receiver")
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--tool-error", choices=sorted(TOOL_ERROR_CONTENT), default="json")
    args = parser.parse_args()
    agent, tool, session, providers = SETUPS[args.library](args.content, args.otlp)
    from openai import OpenAI

    client = OpenAI(base_url=args.openai, api_key="test-key", max_retries=0)
    for layout in args.layouts.split(","):
        for run, agent_name, session_id, task in RUNS:
            session_id = f"{session_id}-{layout}"
            if layout == "agent":
                agent(agent_name, session_id, task, lambda: agent_loop(client, task, tool, args.tool_error))
            elif layout == "bare":
                with session(session_id):
                    agent_loop(client, task, plain_tool, args.tool_error)
            else:
                agent_loop(client, task, plain_tool, args.tool_error)
    for provider in providers:
        provider.force_flush()
        provider.shutdown()


if __name__ == "__main__":
    main()
