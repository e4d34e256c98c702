"""POST JSON to one HTTP(S) endpoint with the standard library's ``http.client``, off the event loop.

Why not the ``openai`` SDK: measured on a 2-core machine (``bench/bench_cli.py``), importing it costs
about 2 s and each call about 10 ms of CPU for response models the judge never uses, which alone keeps
an ``annotate`` run far from the endpoint's concurrency. The judge needs one request shape (Chat
Completions) and reads a handful of fields; retries, backoff and error meaning live in
:mod:`mastlens.judges.llm.client`. This module only moves bytes.

Requests run on a thread pool (one kept-alive connection per thread; the socket wait releases the
GIL). ``close`` shuts every open socket, so a run that is interrupted does not wait for its requests'
timeouts. Proxies are taken from the environment (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``), as the
SDK did (never for this machine's own addresses): HTTPS goes through a CONNECT tunnel, plain HTTP
through the proxy with the full URL.

A request posted with ``held=True`` keeps its thread, and so its slot, after the reply is handed over,
until the caller sets the reply's ``release`` (the runner does once the reply is committed to the store):
requests on the wire plus replies not yet durable never exceed the pool's size, which bounds what a
crash costs. The wait is bounded (``hold_s``), so a caller that forgets cannot stall the pool for good.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from mastlens import __version__


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    elapsed: float = 0.0  # seconds from sending the request (connecting, if needed) to its last byte
    release: threading.Event | None = field(default=None, compare=False, repr=False)  # set: the slot is free

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Timeout(Exception):
    """No answer within the timeout (connecting, sending or reading)."""


class ConnectionFailed(Exception):
    """The connection could not be made or broke off."""


class Stopped(Exception):
    """Not sent: an earlier reply's ``stop_if`` gave a reason while this request waited for a free thread."""


def _proxy_for(scheme: str, host: str) -> tuple[str, int] | None:
    if host in ("localhost", "::1") or host.startswith("127.") or proxy_bypass(host):
        return None  # a server on this machine is never reached through a proxy
    url = getproxies().get(scheme)
    if not url:
        return None
    parts = urlsplit(url if "//" in url else f"http://{url}")
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)) if parts.hostname else None


class JsonPoster:
    """POSTs to ``{base_url}{path}``, at most ``max_workers`` on the wire at once. Requests beyond that
    wait in the pool's queue, and a thread that finishes one starts the next at once, whatever the event
    loop is busy with (parsing the replies that just came in, for instance)."""

    def __init__(self, base_url: str, *, headers: dict[str, str], timeout: float, max_workers: int = 128,
                 hold_s: float = 10.0):
        parts = urlsplit(base_url)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.query = f"?{parts.query}" if parts.query else ""
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": f"mastlens/{__version__}", **headers}
        self._proxy = _proxy_for(self.scheme, self.host)
        self._tls = ssl.create_default_context() if self.scheme == "https" else None
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mastlens-http")
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._stopped: str | None = None
        self.hold_s = hold_s
        self._held: set[threading.Event] = set()

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._proxy or (self.host, self.port)
        if self._tls is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._tls)
            if self._proxy:
                conn.set_tunnel(self.host, self.port)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        with self._lock:
            self._open.add(conn)
        return conn

    def _target(self, path: str) -> str:
        target = f"{self.base_path}{path}{self.query}"
        if self._proxy and self._tls is None:  # a plain-HTTP proxy wants the absolute URL
            return f"http://{self.host}:{self.port}{target}"
        return target

    def _post_blocking(self, path: str, body: bytes, stop_if: Callable[[HttpReply], str | None] | None) -> HttpReply:
        reply = self._send(path, body)
        if stop_if is not None and self._stopped is None:
            # decided on this thread, before it takes the next queued request
            self._stopped = stop_if(reply)
        return reply

    def _send(self, path: str, body: bytes) -> HttpReply:
        if self._stopped is not None:
            raise Stopped(self._stopped)
        if self._closed:
            raise ConnectionFailed("the client was closed")
        started = time.monotonic()
        conn = getattr(self._local, "conn", None)
        fresh = conn is None
        for _ in range(2):  # a kept-alive connection the server dropped meanwhile gets one fresh retry
            if conn is None:
                conn = self._local.conn = self._connect()
            try:
                conn.request("POST", self._target(path), body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
                reply = HttpReply(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                                  time.monotonic() - started)
                if response.will_close:
                    self._drop(conn)
                return reply
            except TimeoutError as exc:
                self._drop(conn)
                raise Timeout(str(exc)) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                conn = None
                if fresh or self._closed:
                    raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from None
                fresh = True
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise ConnectionFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        raise ConnectionFailed("the server closed the connection")  # pragma: no cover - loop always returns

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            self._open.discard(conn)
        conn.close()

    async def post(self, path: str, body: bytes, *, stop_if: Callable[[HttpReply], str | None] | None = None,
                   held: bool = False) -> HttpReply:
        """The reply to one POST; raises :class:`Timeout`, :class:`ConnectionFailed` or :class:`Stopped`.
        ``stop_if(reply)`` returning a reason stops the poster as the reply comes in: nothing queued after
        it is sent (each raises :class:`Stopped`). With ``held``, the reply's slot stays taken until its
        ``release`` is set (see the module docstring)."""
        loop = asyncio.get_running_loop()
        if not held:
            return await loop.run_in_executor(self._pool, self._post_blocking, path, body, stop_if)
        answer: asyncio.Future[HttpReply] = loop.create_future()
        queued = self._pool.submit(self._post_held, loop, answer, path, body, stop_if)
        queued.add_done_callback(lambda done: _unsent(loop, answer) if done.cancelled() else None)
        return await answer

    def _post_held(self, loop: asyncio.AbstractEventLoop, answer: asyncio.Future[HttpReply], path: str,
                   body: bytes, stop_if: Callable[[HttpReply], str | None] | None) -> None:
        try:
            reply = self._post_blocking(path, body, stop_if)
        except BaseException as exc:  # handed to the awaiting coroutine, as run_in_executor does
            loop.call_soon_threadsafe(_hand_over, answer, None, exc)
            return
        release = threading.Event()
        with self._lock:
            self._held.add(release)
            if self._closed:
                release.set()
        try:
            loop.call_soon_threadsafe(_hand_over, answer, replace(reply, release=release), None)
        except RuntimeError:  # the loop is closed: nobody will release it
            release.set()
        release.wait(self.hold_s)
        with self._lock:
            self._held.discard(release)

    def close(self) -> None:
        """Shut every open connection (unblocking requests still waiting) and stop the pool."""
        self._closed = True
        with self._lock:
            conns = list(self._open)
            self._open.clear()
            for release in self._held:  # a held thread waits for nobody once the client is closed
                release.set()
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(2)
                except OSError:
                    pass
            conn.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _unsent(loop: asyncio.AbstractEventLoop, answer: asyncio.Future[HttpReply]) -> None:
    """A held request still queued when the client closed: its coroutine hears so, as a connection error."""
    try:
        loop.call_soon_threadsafe(_hand_over, answer, None, ConnectionFailed("the client was closed"))
    except RuntimeError:  # the loop is closed already: nobody waits
        pass


def _hand_over(answer: asyncio.Future[HttpReply], reply: HttpReply | None, error: BaseException | None) -> None:
    """On the loop's thread: the held request's outcome to its coroutine (or its slot freed, if nobody waits)."""
    if answer.done():  # the coroutine was cancelled meanwhile
        if reply is not None and reply.release is not None:
            reply.release.set()
    elif error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(reply)  # type: ignore[arg-type]


def request(base_url: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None,
            content_type: str = "application/json", timeout: float = 120.0) -> HttpReply:
    """One blocking request on a fresh connection (the batch endpoints: an upload, a poll, a download),
    through the environment's proxy like :class:`JsonPoster`. Raises :class:`Timeout` or
    :class:`ConnectionFailed`."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    proxy = _proxy_for(scheme, host)
    target = f"{parts.path.rstrip('/')}{path}"
    if parts.query:
        target += ("&" if "?" in path else "?") + parts.query
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(*(proxy or (host, port)), timeout=timeout,
                                           context=ssl.create_default_context())
        if proxy:
            conn.set_tunnel(host, port)
    else:
        conn = http.client.HTTPConnection(*(proxy or (host, port)), timeout=timeout)
        if proxy:
            target = f"http://{host}:{port}{target}"
    sent = {"Accept": "application/json", "User-Agent": f"mastlens/{__version__}", **headers}
    if body is not None:
        sent["Content-Type"] = content_type
    started = time.monotonic()
    try:
        conn.request(method, target, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        return HttpReply(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                         time.monotonic() - started)
    except TimeoutError as exc:
        raise Timeout(str(exc)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectionFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    finally:
        conn.close()
