"""Chat Completions on any OpenAI-compatible endpoint, with retries and response-format fallback.

Retries (exponential backoff with full jitter, Retry-After honoured) cover 429, 5xx, timeouts,
connection errors and unreadable responses. A 400/422 that names the response format is a
:class:`FormatRejected`, so the judge can fall back to a format the server accepts. The bytes travel
through :mod:`mastlens.judges.llm.http` (the standard library; why not the ``openai`` SDK is said there),
opened when the first request is about to be sent.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mastlens.judges.limits import RateLimiter

if TYPE_CHECKING:
    from mastlens.judges.llm.http import HttpReply, JsonPoster

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ResponseFormat(str, Enum):
    """How the verdict JSON is requested, best first."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    PLAIN = "plain"

    def fallback(self) -> ResponseFormat | None:
        order = list(ResponseFormat)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


@dataclass
class Reply:
    content: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None
    refusal: str | None
    attempts: int
    latency_s: float
    usage_reported: bool = True
    cached_tokens: int = 0  # of input_tokens, served from the provider's prompt cache
    # with ChatClient.hold_replies: set it once the reply is durable, to free its request slot
    release: threading.Event | None = field(default=None, compare=False, repr=False)


class EndpointError(Exception):
    """The endpoint gave no usable reply after the allowed retries (or a non-retryable error)."""

    def __init__(self, reason: str, attempts: int, fatal: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.fatal = fatal  # no later request can succeed either (HTTP 401, 403, 404)


class NotSent(EndpointError):
    """A request held back because the endpoint already refused one in a way every request shares."""

    def __init__(self, reason: str):
        super().__init__(reason, 0, fatal=True)


class FormatRejected(Exception):
    """The server refused the requested response_format."""

    def __init__(self, fmt: ResponseFormat, detail: str, attempts: int):
        super().__init__(f"{fmt.value} rejected: {detail}")
        self.fmt = fmt
        self.attempts = attempts


_REFUSES_ALL = (401, 403, 404)  # wrong key, no access, no such model or path: every request would fail
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "response format", "structured output")


def endpoint_host(base_url: str | None) -> str:
    """Host (and port) of an endpoint URL: never the path, query or credentials."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url if "//" in base_url else f"http://{base_url}")
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _retry_after(headers: dict[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _status_detail(reply: HttpReply) -> str:
    return " ".join(reply.text.split())[:300]


def _names_format(detail: str) -> bool:
    low = detail.lower()
    return any(w in low for w in _FORMAT_WORDS) and "context length" not in low


def _rejects_format(status: int, detail: str, asks_format: bool) -> bool:
    # llama-cpp-python answers a refused response_format with HTTP 500, others with 400/422.
    return asks_format and status in (400, 404, 415, 422, 500) and _names_format(detail)


def _refuses_all(answer: HttpReply, asks_format: bool) -> bool:
    """No later request can succeed either: a wrong key, no access, no such model or path."""
    return answer.status in _REFUSES_ALL and not _rejects_format(answer.status, _status_detail(answer), asks_format)


def response_format_param(fmt: ResponseFormat, schema: dict[str, Any]) -> dict[str, Any] | None:
    if fmt is ResponseFormat.JSON_SCHEMA:
        return {"type": "json_schema", "json_schema": {"name": "mast_verdict", "strict": True, "schema": schema}}
    if fmt is ResponseFormat.JSON_OBJECT:
        # llama.cpp's server constrains decoding with the schema given here; others ignore the extra key.
        return {"type": "json_object", "schema": schema}
    return None


class ChatClient:
    """One OpenAI-compatible endpoint. The API key lives only in this client's request headers."""

    def __init__(self, *, model: str, base_url: str | None, api_key: str | None, timeout: float = 120.0,
                 max_retries: int = 4, backoff_base: float = 1.0, backoff_cap: float = 30.0):
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.limiter: RateLimiter | None = None
        self.slots: int | None = None  # requests on the wire at once (set by the runner; None: the pool's 128)
        self._secret = api_key or None
        self._poster: JsonPoster | None = None
        self.in_flight = 0  # requests started and not yet answered (retries and their waits included)
        # a usable reply keeps its request slot until its ``release`` is set (the runner: once it is stored)
        self.hold_replies = False

    def _http(self) -> JsonPoster:
        if self._poster is None:  # imported here: a dry run or a cached re-run opens no HTTP client
            from mastlens.judges.llm.http import JsonPoster

            self._poster = JsonPoster(self.base_url or DEFAULT_BASE_URL, headers=self.auth_headers(), timeout=self.timeout,
                                      max_workers=self.slots or 128)
        return self._poster

    def set_slots(self, slots: int | None) -> None:
        """At most ``slots`` requests on the wire at once, from the next request on."""
        if slots != self.slots and self._poster is not None:
            self._poster.close()
            self._poster = None
        self.slots = slots

    async def aclose(self) -> None:
        if self._poster is not None:
            self._poster.close()
            self._poster = None

    def scrub(self, text: str) -> str:
        """``text`` with the API key masked (servers sometimes echo it in error messages)."""
        if self._secret and len(self._secret) >= 6:
            text = text.replace(self._secret, "[api key]")
        return text

    def request_body(self, messages: list[dict[str, str]], *, fmt: ResponseFormat, schema: dict[str, Any],
                     temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        """The Chat Completions request for ``messages`` (also one line's body in a batch file)."""
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if temperature is not None:
            request["temperature"] = temperature
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        rf = response_format_param(fmt, schema)
        if rf is not None:
            request["response_format"] = rf
        return request

    def auth_headers(self) -> dict[str, str]:
        """The headers that carry the API key (for the batch endpoints of the same provider)."""
        return {"Authorization": f"Bearer {self._secret}"} if self._secret else {}

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * (2 ** attempt)))

    async def complete(self, messages: list[dict[str, str]], *, fmt: ResponseFormat, schema: dict[str, Any],
                       temperature: float | None, max_tokens: int | None) -> Reply:
        """One chat completion, retried on transient failures."""
        self.in_flight += 1
        try:
            return await self._complete(messages, fmt=fmt, schema=schema, temperature=temperature,
                                        max_tokens=max_tokens)
        finally:
            self.in_flight -= 1

    async def _complete(self, messages: list[dict[str, str]], *, fmt: ResponseFormat, schema: dict[str, Any],
                        temperature: float | None, max_tokens: int | None) -> Reply:
        request = self.request_body(messages, fmt=fmt, schema=schema, temperature=temperature,
                                    max_tokens=max_tokens)
        rf = request.get("response_format")
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        http = self._http()
        from mastlens.judges.llm.http import ConnectionFailed, Stopped, Timeout  # loaded by _http()

        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if self.limiter is not None:
                await self.limiter.acquire()
            wait: float | None = None
            try:
                answer = await http.post("/chat/completions", body, stop_if=self._stop_reason(rf is not None),
                                         held=self.hold_replies)
            except Stopped as exc:  # an earlier reply refused every request: this one was never sent
                raise NotSent(str(exc)) from None
            except Timeout:
                last = f"request timed out after {self.timeout:g} s"
            except ConnectionFailed as exc:
                last = f"connection error: {exc}"
            else:
                status = answer.status
                kept: Reply | None = None
                if 200 <= status < 300:
                    try:
                        kept = self._reply(answer, attempt + 1, answer.elapsed)
                    except ValueError as exc:
                        last = f"unreadable response: {exc}"
                if kept is not None:
                    kept.release = answer.release
                    return kept
                if answer.release is not None:  # no reply to keep: its slot is free at once
                    answer.release.set()
                if not 200 <= status < 300:
                    detail = _status_detail(answer)
                    if _rejects_format(status, detail, rf is not None):
                        raise FormatRejected(fmt, self.scrub(detail), attempt + 1) from None
                    if status == 429:
                        last = f"rate limited (HTTP 429): {detail}"
                        wait = _retry_after(answer.headers)
                    elif status >= 500 or status in (408, 409):
                        last = f"server error (HTTP {status}): {detail}"
                        wait = _retry_after(answer.headers)
                    else:  # a 401/403/404 has stopped the poster already, on the reply's own thread
                        raise EndpointError(self._status_reason(answer), attempt + 1,
                                            fatal=_refuses_all(answer, rf is not None)) from None
            if attempt < self.max_retries:
                await asyncio.sleep(wait if wait is not None else self._backoff(attempt))
        raise EndpointError(self.scrub(f"{last} (gave up after {self.max_retries + 1} attempts)"), self.max_retries + 1)

    def _status_reason(self, answer: HttpReply) -> str:
        return self.scrub(f"HTTP {answer.status}: {_status_detail(answer)}")

    def _stop_reason(self, asks_format: bool) -> Callable[[HttpReply], str | None]:
        """For the poster, run on the reply's thread: why nothing more should be sent, or None."""
        return lambda answer: self._status_reason(answer) if _refuses_all(answer, asks_format) else None

    @staticmethod
    def _reply(answer: HttpReply, attempts: int, latency: float) -> Reply:
        """The fields the judge reads from a Chat Completions body; ValueError when it is not one."""
        try:
            data = json.loads(answer.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not JSON ({exc}): {_status_detail(answer)[:120]}") from None
        return reply_from_body(data, attempts, latency)


def reply_from_body(data: Any, attempts: int = 1, latency: float = 0.0) -> Reply:
    """The fields the judge reads from a decoded Chat Completions body; ValueError when it is not one."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ValueError("the first choice has no message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError("the message content is not text")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else None
    return Reply(
        content=content or "",
        input_tokens=_count(usage, "prompt_tokens"),
        output_tokens=_count(usage, "completion_tokens"),
        finish_reason=choices[0].get("finish_reason"),
        refusal=message.get("refusal") if isinstance(message.get("refusal"), str) else None,
        attempts=attempts,
        latency_s=latency,
        usage_reported=usage is not None,
        cached_tokens=cached_prompt_tokens(usage),
    )


def cached_prompt_tokens(usage: dict[str, Any] | None) -> int:
    """Prompt tokens the provider read from its prefix cache (``usage.prompt_tokens_details.cached_tokens``)."""
    details = (usage or {}).get("prompt_tokens_details")
    return _count(details if isinstance(details, dict) else None, "cached_tokens")


def _count(usage: dict[str, Any] | None, name: str) -> int:
    value = (usage or {}).get(name)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
