"""The judge's HTTP transport against real servers on 127.0.0.1: kept-alive connections the server
dropped, bodies that are not Chat Completions, a close while a request waits, a plain-HTTP proxy."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Response, completion, reply

from mastlens.judges.llm.client import ChatClient, EndpointError, ResponseFormat
from mastlens.judges.llm.http import ConnectionFailed, JsonPoster

MESSAGES = [{"role": "user", "content": "judge this"}]


def _client(url: str, **kwargs: Any) -> ChatClient:
    return ChatClient(model="m", base_url=url, api_key="sk-test-secret", backoff_base=0.0, **kwargs)


async def _ask(client: ChatClient) -> Any:
    try:
        return await client.complete(MESSAGES, fmt=ResponseFormat.PLAIN, schema={}, temperature=0.0, max_tokens=None)
    finally:
        await client.aclose()


class _OneShotServer:
    """Answers each connection's first request with a valid completion (keep-alive headers), then closes
    the socket without saying so: the next request on that connection finds it dead."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(rest) < length:
                rest += conn.recv(65536)
            body = json.dumps(completion("fine")).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            conn.close()


def test_a_kept_alive_connection_the_server_dropped_is_reopened_once():
    server = _OneShotServer()
    poster = JsonPoster(server.url, headers={}, timeout=10, max_workers=1)  # one thread: one reused connection

    async def two() -> list[int]:
        return [(await poster.post("/chat/completions", b"{}")).status for _ in range(2)]

    try:
        assert asyncio.run(two()) == [200, 200]
    finally:
        poster.close()
    assert server.connections == 2


@pytest.mark.parametrize("raw, reason", [
    (b"<html>gateway</html>", "the body is not JSON"),
    (json.dumps({"object": "chat.completion", "choices": []}).encode(), "response has no choices"),
    (json.dumps({"choices": [{"message": {"content": ["not", "text"]}}]}).encode(), "content is not text"),
])
def test_a_200_that_is_not_a_completion_is_retried_then_an_error(raw, reason):
    with FakeOpenAI(lambda request, n: Response(200, raw=raw)) as server:
        with pytest.raises(EndpointError) as err:
            asyncio.run(_ask(_client(server.url, max_retries=1)))
    assert reason in err.value.reason and "gave up after 2 attempts" in err.value.reason and server.calls == 2


def test_usage_key_and_refusal_are_read_from_the_body():
    with FakeOpenAI(lambda request, n: reply("{}", request)) as server:
        got = asyncio.run(_ask(_client(server.url)))
        sent = server.requests[0]
    assert got.content == "{}" and got.usage_reported and got.input_tokens == len("judge this") // 4
    assert sent["model"] == "m" and sent["messages"] == MESSAGES and "response_format" not in sent


def test_close_unblocks_a_request_still_waiting():
    with FakeOpenAI(lambda request, n: reply("{}", request, delay=60)) as server:
        poster = JsonPoster(server.url, headers={}, timeout=120)

        async def main() -> None:
            pending = asyncio.ensure_future(poster.post("/chat/completions", b"{}"))
            while server.calls == 0:
                await asyncio.sleep(0.05)
            poster.close()
            with pytest.raises(ConnectionFailed):
                await asyncio.wait_for(pending, 20)  # far below the server's 60 s: close really unblocked it

        asyncio.run(main())


def test_plain_http_goes_through_the_proxy_from_the_environment(monkeypatch):
    seen: list[tuple[str, str | None]] = []

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps(completion("via proxy")).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "")
    try:
        got = asyncio.run(_ask(_client("http://judge.internal:8080/v1")))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert got.content == "via proxy"
    assert seen == [("http://judge.internal:8080/v1/chat/completions", "Bearer sk-test-secret")]
