"""Read speed of the OpenTelemetry adapter on a big OTLP/JSON export of agent runs.

Reproduce: ``python bench/bench_otel.py [--traces 200] [--turns 30]``

Then the same export with the messages moved out of the spans into a logs export of
``gen_ai.client.inference.operation.details`` events (``event_only`` capture), read as one ingest of the two
files: the join's cost is printed as a ratio to the spans-only read of the same run.

Each trace is an agent span with ``--turns`` LLM spans (each repeating the whole conversation so far in
``gen_ai.input.messages``, as instrumentations record it) and one tool span per turn: the repeats are the
expensive part, since every message has to be recognized as seen.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mastlens.adapters.loader import FileResult, read_file, walk


def _kv(key: str, value: object) -> dict:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _trace(t: int, turns: int) -> list[dict]:
    trace_id = f"{t:032x}"
    agent = f"{t:08x}{0:08x}"
    base = 1_770_000_000_000_000_000 + t * 10**12
    spans = [{"traceId": trace_id, "spanId": agent, "name": "invoke_agent sre", "startTimeUnixNano": str(base),
              "endTimeUnixNano": str(base + 10**9),
              "attributes": [_kv("gen_ai.operation.name", "invoke_agent"), _kv("gen_ai.agent.name", "sre")]}]
    history = [{"role": "user", "parts": [{"type": "text", "content": "Find the root cause of the checkout alert."}]}]
    for turn in range(turns):
        llm, tool = f"{t:08x}{2 * turn + 1:08x}", f"{t:08x}{2 * turn + 2:08x}"
        out = {"role": "assistant", "parts": [
            {"type": "text", "content": f"Step {turn}: checking the pods and recent events. " * 5},
            {"type": "tool_call", "id": f"c{turn}", "name": "kubectl", "arguments": {"cmd": f"get pods -n {turn}"}}]}
        start = base + (turn + 1) * 10**7
        spans.append({"traceId": trace_id, "spanId": llm, "parentSpanId": agent, "name": "chat",
                      "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 10**6), "attributes": [
                          _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "bench-model"),
                          _kv("gen_ai.input.messages", json.dumps(history)),
                          _kv("gen_ai.output.messages", json.dumps([out])), _kv("gen_ai.usage.output_tokens", 80)]})
        result = "\n".join(f"pod-{k} Running 0 {k}m" for k in range(40))
        spans.append({"traceId": trace_id, "spanId": tool, "parentSpanId": agent, "name": "execute_tool kubectl",
                      "startTimeUnixNano": str(start + 2 * 10**6), "endTimeUnixNano": str(start + 3 * 10**6),
                      "attributes": [_kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", "kubectl"),
                                     _kv("gen_ai.tool.call.id", f"c{turn}"), _kv("gen_ai.tool.call.result", result)]})
        history = history + [out, {"role": "tool", "parts": [
            {"type": "tool_call_response", "id": f"c{turn}", "response": result}]}]
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    print(f"reproduce: python bench/bench_otel.py --traces {args.traces} --turns {args.turns}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        spans = [s for t in range(args.traces) for s in _trace(t, args.turns)]
        path.write_text(json.dumps({"resourceSpans": [{"resource": {"attributes": [_kv("service.name", "bench")]},
                                                       "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]}))
        size = path.stat().st_size / 1e6
        started = time.perf_counter()
        result = read_file(path)
        elapsed = time.perf_counter() - started
        steps = sum(len(t.steps) for t in result.traces)
        assert not result.failures and len(result.traces) == args.traces
        assert steps == args.traces * (1 + 3 * args.turns)  # user + (assistant, call, result) per turn: no repeats
        print(f"{len(spans)} spans, {size:.1f} MB -> {len(result.traces)} traces, {steps} steps in {elapsed:.2f} s "
              f"({size / elapsed:.1f} MB/s)")
        traces_path, logs_path = _split_into_events(spans, Path(tmp))
        started = time.perf_counter()
        joined = [t for r in walk([traces_path, logs_path]) if isinstance(r, FileResult) for t in r.traces]
        joined_s = time.perf_counter() - started
    assert sum(len(t.steps) for t in joined) == steps
    print(f"traces + logs files joined: {len(joined)} traces in {joined_s:.2f} s "
          f"({joined_s / elapsed:.2f}x the spans-only read)")


_CONTENT = ("gen_ai.input.messages", "gen_ai.output.messages")


def _split_into_events(spans: list[dict], folder: Path) -> tuple[Path, Path]:
    """The export as event_only capture writes it: spans without messages, and one details event per model call."""
    bare, records = [], []
    for span in spans:
        content = [kv for kv in span["attributes"] if kv["key"] in _CONTENT]
        bare.append({**span, "attributes": [kv for kv in span["attributes"] if kv["key"] not in _CONTENT]})
        if content:
            records.append({"timeUnixNano": span["startTimeUnixNano"], "traceId": span["traceId"],
                            "spanId": span["spanId"], "eventName": "gen_ai.client.inference.operation.details",
                            "attributes": content})
    traces_path, logs_path = folder / "traces.json", folder / "logs.json"
    traces_path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"scope": {"name": "bench"}, "spans": bare}]}]}))
    logs_path.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"scope": {"name": "bench"},
                                                                       "logRecords": records}]}]}))
    return traces_path, logs_path


if __name__ == "__main__":
    main()
