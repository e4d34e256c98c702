"""Record a real instrumented agent run: the scripted Chat Completions server, an OTLP/HTTP receiver on
127.0.0.1 that decodes protobuf with opentelemetry-proto, and tests/otel_agent_script.py in a subprocess.

:func:`record` returns the export as the files a user would have: OTLP/JSON with hex ids (the OTLP/JSON
spec), protobuf's ``MessageToJson`` with base64 ids, logs apart, and both in one JSONL file (the collector's
file exporter writes one export request per line).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fake_openai import FakeOpenAI, Response, reply, tool_call_reply, user_text
from otel_agent_script import FLIGHT_ANSWER, FLIGHT_ARGS, REFUND_ANSWER, REFUND_ARGS

SCRIPT = Path(__file__).with_name("otel_agent_script.py")
LIBRARIES = ("openinference", "genai", "traceloop")
CONTENT_MODES = ("span_only", "event_only", "none")
# the import each library's script needs (a missing one skips that library's tests)
LIBRARY_MODULES = {"openinference": "openinference.instrumentation.openai",
                   "genai": "opentelemetry.instrumentation.openai_v2", "traceloop": "traceloop.sdk"}


def agent_responder(request: dict[str, Any], n: int) -> Response:
    """The model's side of the two runs: refund (one failing call, then a success claim) and flights (the
    same search three times, then an answer)."""
    answered = sum(1 for m in request["messages"] if m["role"] == "tool")
    if "refund" in user_text(request):
        if not answered:
            return tool_call_reply([("call_refund_1", "issue_refund", REFUND_ARGS)], request)
        return reply(REFUND_ANSWER, request)
    if answered < 3:
        return tool_call_reply([(f"call_search_{answered + 1}", "search_flights", FLIGHT_ARGS)], request)
    return reply(FLIGHT_ANSWER, request)


class OtlpReceiver:
    """An OTLP/HTTP (protobuf) collector on 127.0.0.1 keeping every export request it is sent."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest, ExportLogsServiceResponse,
        )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest, ExportTraceServiceResponse,
        )
        self.traces = ExportTraceServiceRequest()
        self.logs = ExportLogsServiceRequest()
        self.content_types: set[str] = set()
        lock = threading.Lock()
        receiver = self
        routes = {"/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, "traces"),
                  "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse, "logs")}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                route = routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request_type, response_type, kept = route
                with lock:
                    receiver.content_types.add(self.headers.get("Content-Type", ""))
                    getattr(receiver, kept).MergeFrom(request_type.FromString(body))
                payload = response_type().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Recording:
    library: str
    content: str
    traces_hex: Path  # OTLP/JSON as the spec writes it (hex ids)
    traces_b64: Path  # protobuf MessageToJson (base64 ids)
    logs: Path | None  # resourceLogs, MessageToJson (None when no log record was exported)
    combined: Path  # one JSONL file: the trace export, then the logs export
    spans: int
    log_records: int
    requests: list[dict[str, Any]]  # what the model server was sent


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def hex_ids(node: Any) -> Any:
    """A MessageToDict tree with its base64 trace/span ids turned to hex, as the OTLP/JSON spec has them."""
    if isinstance(node, list):
        return [hex_ids(v) for v in node]
    if isinstance(node, dict):
        return {k: base64.b64decode(v).hex() if k in _ID_FIELDS and isinstance(v, str) else hex_ids(v)
                for k, v in node.items()}
    return node


def record(library: str, content: str, out: Path, *script_args: str) -> Recording:
    """Run the agent under ``library`` with ``content`` capture and write its export to files in ``out``
    (``script_args``: more options of tests/otel_agent_script.py, e.g. ``--tool-error text``)."""
    from google.protobuf.json_format import MessageToDict, MessageToJson

    out.mkdir(parents=True, exist_ok=True)
    with FakeOpenAI(agent_responder) as server, OtlpReceiver() as receiver:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OTEL_", "OPENINFERENCE_", "TRACELOOP_", "OPENAI_"))}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        done = subprocess.run([sys.executable, str(SCRIPT), library, content, "--openai", server.url,
                               "--otlp", receiver.url, *script_args], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{library} {content} agent run failed:\n{done.stdout}\n{done.stderr}")
        traces, logs = receiver.traces, receiver.logs
        requests = list(server.requests)
    stem = f"{library}-{content}"
    traces_b64 = out / f"{stem}-traces-b64.json"
    traces_b64.write_text(MessageToJson(traces), encoding="utf-8")
    traces_hex = out / f"{stem}-traces.json"
    traces_hex.write_text(json.dumps(hex_ids(MessageToDict(traces)), indent=1), encoding="utf-8")
    n_logs = sum(len(sl.log_records) for rl in logs.resource_logs for sl in rl.scope_logs)
    logs_path = None
    if n_logs:
        logs_path = out / f"{stem}-logs.json"
        logs_path.write_text(MessageToJson(logs), encoding="utf-8")
    combined = out / f"{stem}-both.jsonl"
    lines = [json.dumps(hex_ids(MessageToDict(traces)))]
    if n_logs:
        lines.append(json.dumps(hex_ids(MessageToDict(logs))))
    combined.write_text("\n".join(lines) + "\n", encoding="utf-8")
    n_spans = sum(len(ss.spans) for rs in traces.resource_spans for ss in rs.scope_spans)
    return Recording(library, content, traces_hex, traces_b64, logs_path, combined, n_spans, n_logs, requests)


if __name__ == "__main__":  # python tests/_otlp_capture.py LIBRARY CONTENT OUT_DIR: keep an export to look at
    rec = record(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    print(rec.traces_hex, rec.spans, "spans", rec.log_records, "log records")
