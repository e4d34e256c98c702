"""The files of a judge replay: requests dumped for an answerer, answers read back, and the endpoint serving them.

A request is keyed by :func:`request_hash`, a hash of its messages (roles and contents, in order). The dump folder
holds ``<hash>.request.json`` (the messages and the response schema), ``INDEX.md`` (how to answer) and
``meta.json`` (variant, commit, counts). An answerer writes ``<hash>.answer.json`` or ``<hash>.answer.txt``: the raw
reply the model would give. Nothing in the folder names a trace or its outcome.

:class:`AnswerServer` is a real OpenAI-compatible Chat Completions endpoint on 127.0.0.1 (the test suite's
``fake_openai`` server) that replies to each request with the answer whose key matches its hash; a request with no
answer gets an HTTP 400 naming its hash, so the judge stores an error for that trace (never an absent verdict),
and the request is recorded so a dump can write it (the second round of a two-pass variant, a corrective retry).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_openai import FakeOpenAI, Response, completion, error

REQUEST_SUFFIX = ".request.json"
ANSWER_SUFFIXES = (".answer.json", ".answer.txt")
NO_ANSWER = "no answer recorded for request"


def request_hash(messages: Iterable[dict[str, Any]]) -> str:
    """The key of a request: sha256 of its messages' roles and contents, in order (first 20 hex digits)."""
    body = json.dumps([[m.get("role"), m.get("content")] for m in messages], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]


def read_answer(path: Path) -> str:
    """The raw reply in an answer file. A file holding a whole Chat Completions response (``choices``) is read
    for its first message's content; anything else is the reply itself, byte for byte."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and isinstance(data.get("choices"), list) and data["choices"]:
        message = data["choices"][0].get("message") or {}
        if isinstance(message.get("content"), str):
            return message["content"]
    return text


def load_answers(folder: Path, *, settled_for: float = 0.0) -> dict[str, str]:
    """hash -> raw reply, for every answer file in ``folder`` (a ``.json`` answer wins over a ``.txt`` one);
    ``settled_for``: only files unchanged for that many seconds (a dump must not read one still being written)."""
    answers: dict[str, str] = {}
    if not folder.is_dir():
        return answers
    now = time.time()
    for suffix in reversed(ANSWER_SUFFIXES):
        for path in sorted(folder.glob(f"*{suffix}")):
            if settled_for and now - path.stat().st_mtime < settled_for:
                continue
            answers[path.name[: -len(suffix)]] = read_answer(path)
    return answers


def dumped_trace_keys(folder: Path) -> dict[str, str]:
    """trace key -> hash of the dumped request it was written for."""
    out = {}
    for path in folder.glob(f"*{REQUEST_SUFFIX}"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("trace_key") and record.get("hash"):
            out[record["trace_key"]] = record["hash"]
    return out


def trace_block(request: dict[str, Any]) -> str | None:
    """The rendered trace a judge request carries (between <trace> and </trace> in its first user message)."""
    user = next((m.get("content") or "" for m in request.get("messages") or [] if m.get("role") == "user"), "")
    start, end = user.find(_OPEN), user.rfind(_CLOSE)
    return user[start + len(_OPEN):end] if 0 <= start < end else None


_OPEN, _CLOSE = "<trace>\n", "\n</trace>"


@dataclass
class AnswerServer:
    """The endpoint serving ``answers``; ``unanswered`` collects the requests it had no answer for.

    With ``windows`` (rendered window text -> (trace content hash, window index)) and ``by_trace`` (trace key ->
    answer), a request with no answer of its own is served the answer given to the dumped request of the same
    trace window and kind (first pass or ``kind_of``'s other passes): ``--match trace``. ``keys`` collects the
    trace key of every request it could place, answered or not (what a dump writes beside it)."""

    answers: dict[str, str]
    windows: dict[str, tuple[str, int]] = field(default_factory=dict)
    by_trace: dict[str, str] = field(default_factory=dict)
    kind_of: Any = None  # request -> "first" or the name of another pass ("localize"); None: a retry, never placed
    served: set[str] = field(default_factory=set)
    served_by_trace: set[str] = field(default_factory=set)
    unanswered: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def place(self, request: dict[str, Any]) -> str | None:
        """The trace key of a request: its trace and window found by the rendering it carries, and its kind."""
        kind = self.kind_of(request) if self.kind_of is not None else "first"
        where = self.windows.get(trace_block(request) or "")
        if kind is None or where is None:
            return None
        content_hash, window = where
        return trace_key(content_hash, window if kind == "first" else f"{kind}-{window}")

    def respond(self, request: dict[str, Any], n: int) -> Response:
        key = request_hash(request.get("messages") or [])
        content = self.answers.get(key)
        placed = self.place(request) if self.windows else None
        by_trace = content is None and placed is not None and placed in self.by_trace
        if by_trace:
            content = self.by_trace[placed]
        with self._lock:
            if placed is not None:
                self.keys[key] = placed
            if content is None:
                self.unanswered.setdefault(key, request)
            else:
                self.served.add(key)
                if by_trace:
                    self.served_by_trace.add(key)
        if content is None:
            return error(400, f"{NO_ANSWER} {key}")
        return Response(200, completion(content, request))

    def __enter__(self) -> str:
        self._fake = FakeOpenAI(self.respond).__enter__()
        return self._fake.url

    def __exit__(self, *exc: object) -> None:
        self._fake.__exit__(*exc)


def trace_key(content_hash: str, window: int | str) -> str:
    """An opaque key of one window of one trace (by the trace's content hash) and one pass (a first pass's window is
    its index; another pass's ``<kind>-<index>``): lets a later replay find the answer to a request whose text has
    changed since the dump (another commit's prompt or rendering: ``--match trace``); it names nothing."""
    return hashlib.sha256(f"mastlens-replay-trace|{content_hash}|{window}".encode()).hexdigest()[:20]


def request_record(messages: list[dict[str, Any]], response_format: dict[str, Any] | None,
                   key: str | None = None) -> dict[str, Any]:
    """What a request file holds: its hash, the messages to send, and the response format to ask for."""
    record = {"hash": request_hash(messages), "messages": messages, "response_format": response_format,
              "answer_file": f"{request_hash(messages)}.answer.json"}
    if key is not None:
        record["trace_key"] = key
    return record


def write_requests(folder: Path, records: Iterable[dict[str, Any]]) -> list[str]:
    """Write each request as ``<hash>.request.json``; returns the hashes written. An existing file is kept, unless
    it lacks the trace key the record now has (the messages are the same: the hash says so)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record in records:
        path = folder / f"{record['hash']}{REQUEST_SUFFIX}"
        rewrite = not path.exists()
        if not rewrite and record.get("trace_key"):
            try:
                rewrite = not json.loads(path.read_text(encoding="utf-8")).get("trace_key")
            except ValueError:
                rewrite = True
        if rewrite:
            path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(record["hash"])
    return written


def git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


INDEX = """# Requests to answer

Each `<hash>.request.json` file here is one request a judge of agent runs sends to a language model. Answer
every request on its own, as the model would, seeing nothing but that request.

## How to answer a request

1. Read the request file. `messages` is the conversation to answer: a `system` message (the instructions, the
   same in every request), a `user` message (the record of one agent run, between `<trace>` and `</trace>`),
   and, in a few requests, earlier turns. `response_format` is the JSON schema the reply must follow.
2. Write the reply the model would give, and nothing else, to `<hash>.answer.json` in this folder (the same
   hash as the request file; `answer_file` in the request names it). The reply is one JSON object of the shape
   the system message and the schema describe. A plain-text reply may go to `<hash>.answer.txt` instead.
3. Quote evidence verbatim from the numbered steps of the record: quotes are checked against the record.

Do not look anything up about the runs: judge only what the record shows. Requests are independent; their order
means nothing. A request left unanswered counts as an error in the measurement, never as "nothing found".

## Requests

{count} requests{rounds}:

{listing}
"""


def write_index(folder: Path, hashes: list[str], *, answered: set[str], meta: dict[str, Any]) -> None:
    """INDEX.md (instructions and the list of requests, answered or not) and meta.json (no trace names)."""
    listing = "\n".join(f"- `{h}.request.json`" + (" (answered)" if h in answered else "") for h in sorted(hashes))
    rounds = ""
    if meta.get("two_pass"):
        rounds = (" (more may be added here later: some requests depend on the answers to earlier ones)")
    (folder / "INDEX.md").write_text(INDEX.format(count=len(hashes), rounds=rounds, listing=listing),
                                     encoding="utf-8")
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
