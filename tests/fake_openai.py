"""A real Chat Completions server on 127.0.0.1 for tests and benchmarks, scripted per test.

``FakeOpenAI(responder)`` serves ``POST /v1/chat/completions`` on an ephemeral port in a background
thread; ``responder(request, n)`` gets the parsed request body and its 0-based arrival number and returns
a :class:`Response`. Every request body is recorded in ``server.requests``.

Run as a script (``python tests/fake_openai.py --latency 1``) it serves valid verdicts until killed,
printing its base URL on the first line (used by the benchmark and subprocess tests).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODE_IDS = [f"FM-{c}" for c in
            ("1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.1", "3.2", "3.3")]
_STEP = re.compile(r"^\[step (\d+)(?: \| [^\]]*)?\]\n(.*?)(?=\n\n\[step |\n</trace>)", re.MULTILINE | re.DOTALL)


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


Responder = Callable[[dict[str, Any], int], Response]


def user_text(request: dict[str, Any]) -> str:
    return next((m["content"] for m in request["messages"] if m["role"] == "user"), "")


def trace_steps(request: dict[str, Any]) -> dict[int, str]:
    """The rendered steps of the trace in a judge request: step number -> body."""
    return {int(m.group(1)): m.group(2) for m in _STEP.finditer(user_text(request))}


def verdict(present: dict[str, list[tuple[int, str]]] | None = None, *, ids: dict[str, str] | None = None,
            drop: tuple[str, ...] = (), extra: list[dict[str, Any]] | None = None, task_completed: bool | None = False,
            summary: str = "The agent ran.") -> dict[str, Any]:
    """A verdict object: modes in ``present`` are present with the given (step, quote) evidence."""
    present = present or {}
    modes = []
    for mode_id in MODE_IDS:
        if mode_id in drop:
            continue
        ev = [{"step": s, "quote": q} for s, q in present.get(mode_id, [])]
        modes.append({"id": (ids or {}).get(mode_id, mode_id), "present": mode_id in present,
                      "confidence": 0.8, "evidence": ev, "reason": f"reason for {mode_id}"})
    modes.extend(extra or [])
    return {"summary": summary, "task_completed": task_completed, "modes": modes}


def completion(content: str, request: dict[str, Any] | None = None, finish_reason: str = "stop") -> dict[str, Any]:
    prompt_chars = sum(len(m.get("content") or "") for m in (request or {}).get("messages", []))
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": (request or {}).get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                  "total_tokens": prompt_chars // 4 + len(content) // 4},
    }


def tool_call_reply(calls: list[tuple[str, str, dict[str, Any]]], request: dict[str, Any]) -> Response:
    """An assistant message asking for tool calls: ``calls`` are (call id, function name, arguments)."""
    body = completion("", request, "tool_calls")
    message = body["choices"][0]["message"]
    message["content"] = None
    message["tool_calls"] = [{"id": cid, "type": "function",
                              "function": {"name": name, "arguments": json.dumps(args)}}
                             for cid, name, args in calls]
    return Response(200, body)


def reply(content: str | dict[str, Any], request: dict[str, Any], *, delay: float = 0.0,
          finish_reason: str = "stop") -> Response:
    text = content if isinstance(content, str) else json.dumps(content)
    return Response(200, completion(text, request, finish_reason), delay=delay)


def error(status: int, message: str = "fake failure", *, retry_after: float | None = None) -> Response:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Response(status, {"error": {"message": message, "type": "fake", "code": status}}, headers)


def quoting_verdict(request: dict[str, Any], mode_id: str = "FM-1.3") -> dict[str, Any]:
    """A verdict with ``mode_id`` present, quoting the last step of the trace verbatim."""
    steps = trace_steps(request)
    if not steps:
        return verdict()
    last = max(steps)
    quote = steps[last].strip().splitlines()[0][:80] if steps[last].strip() else ""
    return verdict({mode_id: [(last, quote)]})


def good(request: dict[str, Any], n: int) -> Response:
    return reply(quoting_verdict(request), request)


def rejects_json_schema(inner: Responder) -> Responder:
    """Wrap a responder so the server refuses ``response_format`` type json_schema, like llama.cpp's."""
    def responder(request: dict[str, Any], n: int) -> Response:
        rf = request.get("response_format") or {}
        if rf.get("type") == "json_schema":
            return error(422, "response_format.type: Input should be 'text' or 'json_object'")
        return inner(request, n)
    return responder


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: many clients connect at once in the benchmark


class FakeOpenAI:
    """The server. Use as a context manager; ``url`` is the base URL to give the client."""

    def __init__(self, responder: Responder = good, *, latency: float = 0.0):
        self.responder = responder
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # as real servers do (uvicorn, llama.cpp): otherwise the body, written after the headers, waits for
            # the client's delayed ACK (~40 ms) on every kept-alive request after the first few
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                arrived = time.monotonic()  # the latency counts from here: the server's own work is part of it
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the client went away mid-request (a killed run): nothing was asked
                    self.close_connection = True
                    return
                body = json.loads(raw or b"{}")
                with server._lock:
                    n = len(server.requests)
                    server.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    resp = error(404, f"no route {self.path}")
                else:
                    resp = server.responder(body, n)
                time.sleep(max(0.0, arrived + server.latency + resp.delay - time.monotonic()))
                payload = resp.raw if resp.raw is not None else json.dumps(resp.body).encode()
                try:
                    self.send_response(resp.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def calls(self) -> int:
        return len(self.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--reject-json-schema", action="store_true")
    args = parser.parse_args()
    responder = rejects_json_schema(good) if args.reject_json_schema else good
    with FakeOpenAI(responder, latency=args.latency) as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(main())
