"""A real OpenAI Batch API on 127.0.0.1 for tests and benchmarks: files, batches, file content, and Chat
Completions for the synchronous retries.

``FakeBatchAPI(responder)`` serves, on an ephemeral port in a background thread:

- ``POST /v1/files`` (multipart/form-data, ``purpose=batch``): stores the JSONL and checks every line
  (``custom_id`` unique, ``method`` POST, ``url`` /v1/chat/completions, a ``body``);
- ``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window`` 24h, ``metadata``): counted in
  ``submissions``;
- ``GET /v1/batches/{id}``: each poll moves the batch on (validating, in_progress, then completed after
  ``polls_to_finish`` polls; never while ``hold`` is set). Finishing runs every line through ``responder``
  (the same responders as ``tests/fake_openai.py``): 2xx replies go to the output file, others to the
  error file. ``expire_after[k] = n`` makes the k-th batch (0-based) expire with only its first n lines
  done, the rest in the error file as ``batch_expired``;
- ``GET /v1/batches`` (the listing, newest first) and ``GET /v1/files/{id}/content``;
- ``POST /v1/chat/completions``: ``responder`` answered at once, counted in ``sync_calls``.

With ``key`` set, every request must carry ``Authorization: Bearer KEY``.
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler
from typing import Any

from fake_openai import Response, Responder, _Server, good

_BATCH_EXPIRED = {"code": "batch_expired",
                  "message": "This request could not be executed before the completion window expired."}


class FakeBatchAPI:
    def __init__(self, responder: Responder = good, *, polls_to_finish: int = 1, key: str | None = None,
                 expire_after: dict[int, int] | None = None):
        self.responder = responder
        self.polls_to_finish = polls_to_finish
        self.key = key
        self.expire_after = dict(expire_after or {})
        self.hold = False
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.submissions = 0
        self.uploads = 0
        self.sync_calls = 0
        self.lines_run = 0  # batch lines answered by the responder, over all batches
        self.polls = 0
        self.downloads = 0
        self._n = 0
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, raw: bytes | None = None) -> None:
                payload = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _authorized(self) -> bool:
                if api.key is None or self.headers.get("Authorization") == f"Bearer {api.key}":
                    return True
                self._send(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
                return False

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self._authorized():
                    status, body, raw = api._get(self.path)
                    self._send(status, body, raw)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self._authorized():
                    status, body = api._post(self.path, self.headers.get("Content-Type", ""), data)
                    self._send(status, body)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeBatchAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- routes -------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n:05d}"

    def _post(self, path: str, content_type: str, data: bytes) -> tuple[int, Any]:
        path = path.split("?")[0]
        with self._lock:
            if path == "/v1/files":
                return self._upload(content_type, data)
            if path == "/v1/batches":
                return self._create(json.loads(data or b"{}"))
            if path == "/v1/chat/completions":
                self.sync_calls += 1
                n = self.sync_calls - 1
        if path == "/v1/chat/completions":
            resp = self.responder(json.loads(data), n)
            return resp.status, resp.body
        return 404, {"error": {"message": f"no route {path}"}}

    def _get(self, path: str) -> tuple[int, Any, bytes | None]:
        route = path.split("?")[0]
        with self._lock:
            if route == "/v1/batches":
                listed = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
                return 200, {"object": "list", "data": [self._public(b) for b in listed], "has_more": False}, None
            if route.startswith("/v1/batches/"):
                batch = self.batches.get(route.rsplit("/", 1)[1])
                if batch is None:
                    return 404, {"error": {"message": "No batch found"}}, None
                self.polls += 1
                self._advance(batch)
                return 200, self._public(batch), None
            if route.startswith("/v1/files/") and route.endswith("/content"):
                stored = self.files.get(route.split("/")[3])
                if stored is None:
                    return 404, {"error": {"message": "No such file"}}, None
                self.downloads += 1
                return 200, None, stored["content"]
        return 404, {"error": {"message": f"no route {route}"}}, None

    def _upload(self, content_type: str, data: bytes) -> tuple[int, Any]:
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + data)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in fields or "purpose" not in fields:
            return 400, {"error": {"message": "a multipart 'file' and 'purpose' are required"}}
        purpose = fields["purpose"].get_payload(decode=True).decode()
        if purpose != "batch":
            return 400, {"error": {"message": f"purpose must be 'batch' for a batch input, got {purpose!r}"}}
        content = fields["file"].get_payload(decode=True)
        seen: set[str] = set()
        for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
            item = json.loads(line)
            problem = None
            if item.get("custom_id") in seen:
                problem = f"duplicate custom_id {item.get('custom_id')!r}"
            elif item.get("method") != "POST" or item.get("url") != "/v1/chat/completions":
                problem = "method must be POST and url /v1/chat/completions"
            elif not isinstance(item.get("body"), dict):
                problem = "no body"
            if problem:
                return 400, {"error": {"message": f"line {number}: {problem}"}}
            seen.add(item["custom_id"])
        self.uploads += 1
        file_id = self._id("file")
        self.files[file_id] = {"content": content, "purpose": purpose, "lines": len(seen)}
        return 200, {"id": file_id, "object": "file", "bytes": len(content), "purpose": purpose,
                     "filename": fields["file"].get_filename(), "created_at": int(time.time())}

    def _create(self, request: dict[str, Any]) -> tuple[int, Any]:
        stored = self.files.get(request.get("input_file_id", ""))
        if stored is None:
            return 400, {"error": {"message": "input_file_id is not an uploaded file"}}
        if request.get("endpoint") != "/v1/chat/completions" or request.get("completion_window") != "24h":
            return 400, {"error": {"message": "endpoint must be /v1/chat/completions and completion_window 24h"}}
        index = self.submissions
        self.submissions += 1
        batch = {"id": self._id("batch"), "object": "batch", "endpoint": request["endpoint"],
                 "input_file_id": request["input_file_id"], "completion_window": "24h", "status": "validating",
                 "output_file_id": None, "error_file_id": None, "created_at": time.time(),
                 "metadata": request.get("metadata") or {}, "_index": index, "_polls": 0,
                 "request_counts": {"total": stored["lines"], "completed": 0, "failed": 0}}
        self.batches[batch["id"]] = batch
        return 200, self._public(batch)

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in batch.items() if not k.startswith("_")}
        out["created_at"] = int(batch["created_at"])
        return out

    def _advance(self, batch: dict[str, Any]) -> None:
        if batch["status"] not in ("validating", "in_progress") or self.hold:
            return
        batch["_polls"] += 1
        if batch["_polls"] < self.polls_to_finish:
            batch["status"] = "in_progress"
            return
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["content"].decode().splitlines()]
        limit = self.expire_after.get(batch["_index"])
        outputs, errors = [], []
        for k, item in enumerate(lines):
            if limit is not None and k >= limit:
                errors.append({"id": f"batch_req_{k}", "custom_id": item["custom_id"], "response": None,
                               "error": _BATCH_EXPIRED})
                continue
            self.lines_run += 1
            resp = self.responder(item["body"], self.lines_run - 1)
            row = {"id": f"batch_req_{k}", "custom_id": item["custom_id"],
                   "response": {"status_code": resp.status, "request_id": f"req_{k}", "body": resp.body},
                   "error": None}
            (outputs if 200 <= resp.status < 300 else errors).append(row)
        for name, rows in (("output_file_id", outputs), ("error_file_id", errors)):
            if rows:
                file_id = self._id("file")
                content = "".join(json.dumps(r) + "\n" for r in rows).encode()
                self.files[file_id] = {"content": content, "purpose": "batch_output", "lines": len(rows)}
                batch[name] = file_id
        done = sum(1 for r in outputs)
        batch["request_counts"] = {"total": len(lines), "completed": done, "failed": len(lines) - done}
        batch["status"] = "expired" if limit is not None else "completed"
