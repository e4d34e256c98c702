"""Chat Completions over the official ``openai`` SDK, with retries and response-format fallback.

Retries (exponential backoff with full jitter, Retry-After honoured) cover 429, 5xx, timeouts,
connection errors and unreadable responses. A 400/422 that names the response format is a
:class:`FormatRejected`, so the judge can fall back to a format the server accepts. The SDK is imported
when the first request is about to be sent: a cached re-run or a dry run never loads it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mastlens.judges.limits import RateLimiter

if TYPE_CHECKING:
    import openai


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


class EndpointError(Exception):
    """The endpoint gave no usable reply after the allowed retries (or a non-retryable error)."""

    def __init__(self, reason: str, attempts: int, fatal: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.fatal = fatal  # no later request can succeed either (HTTP 401, 403, 404)


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


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
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


def _status_detail(exc: openai.APIStatusError) -> str:
    try:
        text = exc.response.text
    except Exception:  # noqa: BLE001 - body may be unreadable
        text = str(exc)
    return " ".join(text.split())[:300]


def _names_format(detail: str) -> bool:
    low = detail.lower()
    return any(w in low for w in _FORMAT_WORDS) and "context length" not in low


def response_format_param(fmt: ResponseFormat, schema: dict[str, Any]) -> dict[str, Any] | None:
    if fmt is ResponseFormat.JSON_SCHEMA:
        return {"type": "json_schema", "json_schema": {"name": "mast_verdict", "strict": True, "schema": schema}}
    if fmt is ResponseFormat.JSON_OBJECT:
        # llama.cpp's server constrains decoding with the schema given here; others ignore the extra key.
        return {"type": "json_object", "schema": schema}
    return None


class ChatClient:
    """One OpenAI-compatible endpoint. The API key is held only by the SDK client."""

    def __init__(self, *, model: str, base_url: str | None, api_key: str | None, timeout: float = 120.0,
                 max_retries: int = 4, backoff_base: float = 1.0, backoff_cap: float = 30.0):
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.limiter: RateLimiter | None = None
        self._secret = api_key or None
        self._sdk: Any = None
        self._loading: asyncio.Future[Any] | None = None
        self.in_flight = 0  # requests started and not yet answered (retries and their waits included)

    async def _ready_client(self) -> Any:
        """The SDK client; the first request imports the SDK on a thread, so the event loop goes on."""
        if self._sdk is not None:
            return self._sdk
        loop = asyncio.get_running_loop()
        if self._loading is None or self._loading.get_loop() is not loop:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._client))
        return await asyncio.shield(self._loading)

    def _client(self) -> Any:
        if self._sdk is None:
            import openai  # about 1 s of imports: only once a request is really sent

            self._sdk = openai.AsyncOpenAI(api_key=self._secret or "unused", base_url=self.base_url,
                                           timeout=self.timeout, max_retries=0)
        return self._sdk

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    def scrub(self, text: str) -> str:
        """``text`` with the API key masked (servers sometimes echo it in error messages)."""
        if self._secret and len(self._secret) >= 6:
            text = text.replace(self._secret, "[api key]")
        return text

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
        sdk = await self._ready_client()
        import openai  # already loaded by now
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        rf = response_format_param(fmt, schema)
        if rf is not None:
            kwargs["response_format"] = rf
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if self.limiter is not None:
                await self.limiter.acquire()
            started = time.monotonic()
            wait: float | None = None
            try:
                response = await sdk.chat.completions.create(**kwargs)
                return self._reply(response, attempt + 1, time.monotonic() - started)
            except openai.RateLimitError as exc:
                last = f"rate limited (HTTP 429): {_status_detail(exc)}"
                wait = _retry_after(exc)
            except openai.APITimeoutError:
                last = f"request timed out after {self.timeout:g} s"
            except openai.APIConnectionError as exc:
                last = f"connection error: {exc.__cause__ or exc}"
            except openai.APIStatusError as exc:
                detail = _status_detail(exc)
                # llama-cpp-python answers a refused response_format with HTTP 500, others with 400/422.
                if rf is not None and exc.status_code in (400, 404, 415, 422, 500) and _names_format(detail):
                    raise FormatRejected(fmt, self.scrub(detail), attempt + 1) from None
                if exc.status_code >= 500 or exc.status_code in (408, 409):
                    last = f"server error (HTTP {exc.status_code}): {detail}"
                    wait = _retry_after(exc)
                else:
                    raise EndpointError(self.scrub(f"HTTP {exc.status_code}: {detail}"), attempt + 1,
                                        fatal=exc.status_code in _REFUSES_ALL) from None
            except (openai.APIResponseValidationError, ValueError) as exc:
                last = f"unreadable response: {exc}"
            if attempt < self.max_retries:
                await asyncio.sleep(wait if wait is not None else self._backoff(attempt))
        raise EndpointError(self.scrub(f"{last} (gave up after {self.max_retries + 1} attempts)"), self.max_retries + 1)

    @staticmethod
    def _reply(response: Any, attempts: int, latency: float) -> Reply:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ValueError("response has no choices")
        message = choices[0].message
        usage = getattr(response, "usage", None)
        content = message.content or ""
        return Reply(
            content=content,
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=choices[0].finish_reason,
            refusal=getattr(message, "refusal", None),
            attempts=attempts,
            latency_s=latency,
            usage_reported=usage is not None,
        )
