"""`mastlens watch --otlp`: spans from the real OpenTelemetry SDK and OTLP/HTTP exporter (protobuf), and the
same spans POSTed as OTLP/JSON with httpx, turn into the same steps and alerts as the file path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mastlens.adapters.loader import read_file
from mastlens.judges.rules import judge_trace
from watch_support import REPO, Watch

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
TOKEN = "test-token-for-the-receiver"


def agent_spans():
    """An agent that calls a failing metrics tool three times in a row, recorded by the real SDK."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("sre-agent")
    with tracer.start_as_current_span("invoke_agent planner", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "session.id": "sess-otlp"}):
        for i in range(3):
            with tracer.start_as_current_span("execute_tool query_metrics", attributes={
                    "openinference.span.kind": "TOOL", "tool.name": "query_metrics", "tool_call.id": f"call_{i}",
                    "input.value": '{"service": "checkout"}', "output.value": "Error: metrics backend timeout"}) as s:
                s.set_status(Status(StatusCode.ERROR, "metrics backend timed out"))
            time.sleep(0.01)
    provider.shutdown()
    return memory.get_finished_spans()


def export_request(spans):
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(spans)


def start_receiver(tmp_path: Path, *extra: str) -> tuple[Watch, str]:
    watch = Watch("--otlp", "127.0.0.1:0", "--idle-seconds", "1", "--state", str(tmp_path / "s.json"), *extra,
                  cwd=tmp_path)
    deadline = time.time() + 20
    while time.time() < deadline:
        found = [re.search(r"http://127\.0\.0\.1:(\d+)/v1/traces", line) for line in watch.stderr]
        found = [m for m in found if m]
        if found:
            return watch, f"http://127.0.0.1:{found[0].group(1)}/v1/traces"
        time.sleep(0.05)
    watch.stop()
    raise AssertionError(f"receiver did not start: {watch.stderr}")


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("MASTLENS_OTLP_TOKEN", TOKEN)


def _alerts_and_end(watch: Watch) -> tuple[list[str], dict]:
    end = watch.wait_for(lambda e: e["event"] == "run_end", timeout=30)
    return [a["mode"] for a in watch.alerts()], end


def test_protobuf_from_the_real_exporter_json_from_httpx_and_the_file_agree(tmp_path, token_env):
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = agent_spans()
    results = {}
    watch, url = start_receiver(tmp_path)
    try:
        exporter = OTLPSpanExporter(endpoint=url, headers={"authorization": f"Bearer {TOKEN}"})
        for span in reversed(spans):  # one request per span, out of order: the agent span first, the tools after
            assert exporter.export([span]) is SpanExportResult.SUCCESS
        results["protobuf"] = _alerts_and_end(watch)
    finally:
        watch.stop()
    body = MessageToDict(export_request(spans))
    watch, url = start_receiver(tmp_path)
    try:
        answer = httpx.post(url, json=body, headers={"authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        results["json"] = _alerts_and_end(watch)
    finally:
        watch.stop()
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(body))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-m", "mastlens", "watch", str(export_file), "--once", "--json", "--state",
                          str(tmp_path / "f.json")], capture_output=True, env=env, timeout=120, check=True)
    events = [json.loads(x) for x in out.stdout.splitlines()]
    results["file"] = ([e["mode"] for e in events if e["event"] == "alert"],
                       next(e for e in events if e["event"] == "run_end"))
    modes = {kind: (sorted(alerts), end["steps"], end["modes"]) for kind, (alerts, end) in results.items()}
    assert modes["protobuf"] == modes["json"] == modes["file"], modes
    [trace] = read_file(export_file).traces  # and the batch judge on that file says the same
    batch = judge_trace(trace)
    assert modes["file"] == (sorted(batch.present()), len(trace.steps),
                             {m: v.status.value for m, v in batch.modes.items()})
    assert "FM-1.3" in batch.present()


def test_bad_requests_are_refused_and_the_receiver_keeps_running(tmp_path, token_env):
    watch, url = start_receiver(tmp_path)
    auth = {"authorization": f"Bearer {TOKEN}"}
    try:
        assert httpx.post(url, content=b"{not json", headers={**auth, "content-type": "application/json"}).status_code == 400
        assert httpx.post(url, content=b"\xff\x00garbage", headers={
            **auth, "content-type": "application/x-protobuf"}).status_code == 400
        assert httpx.post(url, json={"resourceSpans": "nope"}, headers=auth).status_code == 400
        assert httpx.post(url, json={"resourceSpans": []}).status_code == 401  # no token
        assert httpx.post(url, json={"resourceSpans": []}, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers=auth).status_code == 405
        from google.protobuf.json_format import MessageToDict

        body = MessageToDict(export_request(agent_spans()))
        assert httpx.post(url, json=body, headers=auth).status_code == 200
        end = watch.wait_for(lambda e: e["event"] == "run_end", timeout=30)
        assert "FM-1.3" in end["present"] and watch.proc.poll() is None
    finally:
        watch.stop()


def test_the_receiver_binds_loopback_only(tmp_path, token_env):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-m", "mastlens", "watch", "--otlp", "0.0.0.0:0", "--json"],
                         capture_output=True, env=env, timeout=60, cwd=tmp_path)
    assert out.returncode == 2 and b"loopback only" in out.stderr
