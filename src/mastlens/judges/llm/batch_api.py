"""The four endpoints of the OpenAI Batch API the batch judge uses (and the listing, to find a batch
whose id a killed run never recorded): upload a JSONL file with purpose ``batch``, create a batch in the
24 h window, retrieve it, download a file's content. Transient failures (429, 5xx, timeouts, broken
connections) are retried with backoff, Retry-After honoured; anything else is a :class:`BatchAPIError`
with the server's words (the API key masked)."""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from mastlens.judges.llm.client import DEFAULT_BASE_URL, _retry_after, _status_detail, reply_from_body
from mastlens.judges.llm.http import ConnectionFailed, HttpReply, Timeout, request
from mastlens.store import batches as records

COMPLETION_WINDOW = "24h"
CHAT_ENDPOINT = "/v1/chat/completions"


class BatchAPIError(Exception):
    """The provider refused a batch request, or gave no usable answer after the retries."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status of a refusal (None: no answer, or not JSON)


class BatchAPI:
    def __init__(self, base_url: str | None, *, headers: dict[str, str], timeout: float = 120.0,
                 max_retries: int = 4, backoff_base: float = 1.0, scrub: Any = None):
        self.base_url = base_url or DEFAULT_BASE_URL
        self.headers = headers
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._scrub = scrub or (lambda text: text)

    def _call(self, method: str, path: str, body: bytes | None = None,
              content_type: str = "application/json") -> HttpReply:
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            try:
                reply = request(self.base_url, method, path, headers=self.headers, body=body,
                                content_type=content_type, timeout=self.timeout)
            except (Timeout, ConnectionFailed) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= reply.status < 300:
                    return reply
                last = f"HTTP {reply.status}: {_status_detail(reply)}"
                if reply.status != 429 and reply.status < 500 and reply.status not in (408, 409):
                    raise BatchAPIError(self._scrub(f"{method} {path}: {last}"), reply.status)
                wait = _retry_after(reply.headers)
            if attempt < self.max_retries:
                time.sleep(wait if wait is not None else random.uniform(0, self.backoff_base * 2 ** attempt))
        raise BatchAPIError(self._scrub(f"{method} {path}: {last} (gave up after {self.max_retries + 1} attempts)"))

    def _json(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        reply = self._call(method, path, body)
        try:
            data = json.loads(reply.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BatchAPIError(f"{method} {path}: the answer is not JSON: {_status_detail(reply)[:200]}") from None
        if not isinstance(data, dict):
            raise BatchAPIError(f"{method} {path}: the answer is not a JSON object")
        return data

    def upload(self, filename: str, content: bytes) -> str:
        """Upload a batch input file (multipart/form-data, purpose ``batch``); its file id."""
        boundary = f"mastlens-{uuid.uuid4().hex}"
        body = b"".join([
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n".encode(),
            content, f"\r\n--{boundary}--\r\n".encode(),
        ])
        reply = self._call("POST", "/files", body, f"multipart/form-data; boundary={boundary}")
        try:
            file_id = json.loads(reply.body)["id"]
        except (ValueError, KeyError, TypeError):
            raise BatchAPIError(f"POST /files: no file id in the answer: {_status_detail(reply)[:200]}") from None
        return str(file_id)

    def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        return self._json("POST", "/batches", {"input_file_id": input_file_id, "endpoint": CHAT_ENDPOINT,
                                               "completion_window": COMPLETION_WINDOW, "metadata": metadata})

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        return self._json("GET", f"/batches/{batch_id}")

    def find(self, key: str, value: str, pages: int = 5) -> dict[str, Any] | None:
        """The most recent batch whose ``metadata[key]`` is ``value`` (the listing, newest first)."""
        after = None
        for _ in range(pages):
            page = self._json("GET", "/batches?limit=100" + (f"&after={after}" if after else ""))
            data = page.get("data") or []
            for batch in data:
                if isinstance(batch, dict) and (batch.get("metadata") or {}).get(key) == value:
                    return batch
            if not page.get("has_more") or not data:
                return None
            after = data[-1].get("id")
        return None

    def content(self, file_id: str) -> bytes:
        return self._call("GET", f"/files/{file_id}/content").body


def result_fate(item: dict[str, Any]) -> tuple[tuple[str, str | None, int, int, int], str | None]:
    """An output or error file line's (state, error, input, cached, output tokens) and the reply's content if usable."""
    error = item.get("error")
    if error:
        if isinstance(error, dict):
            return (records.FAILED, f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip(), 0, 0, 0), None
        return (records.FAILED, str(error)[:300], 0, 0, 0), None
    response = item.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if not isinstance(status, int) or not 200 <= status < 300:
        detail = body.get("error", {}).get("message") if isinstance(body, dict) and isinstance(body.get("error"), dict) \
            else json.dumps(body)[:300]
        return (records.FAILED, f"HTTP {status}: {detail}", 0, 0, 0), None
    try:
        reply = reply_from_body(body)
    except ValueError as exc:
        return (records.FAILED, f"unreadable response: {exc}", 0, 0, 0), None
    usage = (records.DONE, None, reply.input_tokens, reply.cached_tokens, reply.output_tokens)
    if reply.refusal or reply.finish_reason == "content_filter":
        return (records.FAILED, f"the model refused: {reply.refusal or 'content filter'}", *usage[2:]), None
    return usage, reply.content


def batch_failure(batch: dict[str, Any]) -> str | None:
    """Why a failed batch failed (its first validation error), or None."""
    errors = (batch.get("errors") or {}).get("data") if isinstance(batch.get("errors"), dict) else None
    if batch.get("status") == "failed" and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        return f"the batch failed: {first.get('message') or first.get('code') or 'no reason given'}"
    return None
