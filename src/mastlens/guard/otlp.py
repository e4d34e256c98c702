"""An OTLP/HTTP trace receiver (``POST /v1/traces``, JSON or protobuf bodies) feeding live runs.

It binds loopback only and wants ``Authorization: Bearer TOKEN`` on every request (an exporter sends it
with ``OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20TOKEN``). Bodies are decoded with the official
``opentelemetry-proto`` messages; spans are then mapped to steps by the OTel adapter, grouped into runs the
way it groups a file's spans, and ordered by start time, so a batch that arrives late is placed by time.
"""

from __future__ import annotations

import gzip
import hmac
import queue
import threading
import time
from pathlib import Path
from typing import Any

from mastlens.guard.live import Alert, Budget, LiveRun, now_iso
from mastlens.judges.rules import DEFAULT_CONFIG, RulesConfig

OTLP_PATH = "/v1/traces"
SOURCE = "otlp"


def decode_body(body: bytes, content_type: str, encoding: str | None) -> dict[str, Any]:
    """An ExportTraceServiceRequest as OTLP/JSON (a dict); ValueError when the body is not one."""
    import json

    from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    if encoding == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise ValueError(f"bad gzip body: {exc}") from None
    message = ExportTraceServiceRequest()
    if content_type.startswith("application/x-protobuf"):
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise ValueError(f"not an OTLP protobuf ExportTraceServiceRequest: {exc}") from None
        return MessageToDict(message)
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
            ParseDict(data, message)  # the schema check: unknown fields or wrong types are refused
        except (ValueError, ParseError) as exc:
            raise ValueError(f"not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
        return data
    raise ValueError(f"unsupported content type {content_type!r} (application/json or application/x-protobuf)")


def make_app(token: str, inbox: queue.Queue) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    expected = f"Bearer {token}".encode()

    async def traces(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        body = await request.body()
        try:
            data = decode_body(body, request.headers.get("content-type", ""),
                               request.headers.get("content-encoding"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        inbox.put(data)
        if request.headers.get("content-type", "").startswith("application/x-protobuf"):
            return Response(b"", media_type="application/x-protobuf")  # an empty ExportTraceServiceResponse
        return JSONResponse({})

    return Starlette(routes=[Route(OTLP_PATH, traces, methods=["POST"])])


class Receiver:
    """The receiver, served by uvicorn on a thread of its own."""

    def __init__(self, port: int, token: str, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the OTLP receiver binds loopback only, not {host!r}")
        self.inbox: queue.Queue = queue.Queue()
        self.host, self.port, self.token = host, port, token
        self.server: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(make_app(self.token, self.inbox), host=self.host, port=self.port,
                                log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # the watch owns the signals
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the OTLP receiver could not listen on {self.host}:{self.port}")
            time.sleep(0.01)
        if self.port == 0:
            self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)


class OtlpRuns:
    """Spans received so far, grouped into runs, each with its :class:`LiveRun`."""

    def __init__(self, inbox: queue.Queue, emit: Any, send: Any, *, config: RulesConfig = DEFAULT_CONFIG,
                 budget: Budget | None = None, window: int = 48, idle_seconds: float = 30.0):
        self.inbox, self.emit, self.send = inbox, emit, send
        self.config, self.budget, self.window, self.idle = config, budget or Budget(), window, idle_seconds
        self.spans: dict[str, list[Any]] = {}
        self.runs: dict[str, LiveRun] = {}
        self.traces: dict[str, Any] = {}

    def drain(self) -> list[Alert]:
        """Every batch received since the last call, turned into alerts."""
        from mastlens.adapters.otel.spans import parse_spans

        touched: set[str] = set()
        while True:
            try:
                data = self.inbox.get_nowait()
            except queue.Empty:
                break
            try:
                spans = parse_spans(data, SOURCE)
            except Exception as exc:  # noqa: BLE001 - one odd batch must not stop the watch
                self.emit({"event": "error", "time": now_iso(), "source": SOURCE,
                           "message": f"an OTLP batch could not be read: {type(exc).__name__}: {exc}"})
                continue
            for span in spans:
                self.spans.setdefault(span.trace_id, []).append(span)
                touched.add(span.trace_id)
        return self._update(touched) if touched else []

    def _update(self, touched: set[str]) -> list[Alert]:
        from mastlens.adapters.base import ReadContext
        from mastlens.adapters.otel.reader import ADAPTER

        spans = [s for tid in self.spans for s in self.spans[tid]]
        alerts: list[Alert] = []
        for _, trace in ADAPTER.read_joined([(Path(SOURCE), spans, [])], ReadContext()):
            self.traces[trace.id] = trace
            alerts += self._feed(trace)
        return alerts

    def _feed(self, trace: Any) -> list[Alert]:
        run = self.runs.get(trace.id)
        if run is not None and run.steps and (len(trace.steps) < len(run.steps)
                                              or _key(trace.steps[len(run.steps) - 1]) != _key(run.steps[-1])):
            # a late batch landed among the steps already seen: the run is read again from its start
            run = LiveRun(trace.id, SOURCE, config=self.config, window=self.window, budget=self.budget,
                          alerted=run.alerted)
            self.runs[trace.id] = run
            return run.add(trace.steps)
        if run is None:
            run = self.runs[trace.id] = LiveRun(trace.id, SOURCE, config=self.config, window=self.window,
                                                budget=self.budget)
        run.finished = False
        return run.add(trace.steps[len(run.steps):])

    def tick(self, now: float) -> None:
        for run_id, run in self.runs.items():
            if not run.finished and now - run.last_step_at >= self.idle:
                self.finish(run_id)

    def finish_all(self) -> None:
        for run_id, run in self.runs.items():
            if not run.finished:
                self.finish(run_id)

    def finish(self, run_id: str) -> list[Alert]:
        run, trace = self.runs[run_id], self.traces[run_id]
        alerts = run.judge_whole(trace, final=True)
        run.finished = True
        for alert in alerts:
            self.send(alert)
        modes = {m: v.status.value for m, v in run.final.modes.items()} if run.final else {}
        self.emit({"event": "run_end", "time": now_iso(), "run": run_id, "source": SOURCE,
                   "steps": len(trace.steps), "present": [m for m, s in modes.items() if s == "present"],
                   "modes": modes})
        return alerts


def _key(step: Any) -> tuple:
    return (step.kind, step.tool, step.call_id, step.content[:200])
