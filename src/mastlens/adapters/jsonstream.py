"""Record-at-a-time reading of JSON files, and a cheap look at a file head's first record.

Record formats (chat logs, tau-bench results, MAST-Data) come as a JSON list of records, one record
per JSONL line, or a single object. :func:`iter_records` yields them one by one without holding the
whole parsed file: a JSON list is decoded element by element from a growing buffer, so a dataset of
hundreds of MB costs about one record of memory beyond the traces built from it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mastlens.adapters.base import AdapterError, ReadContext, json_reason, one_line, open_trace, trace_suffix

T = TypeVar("T")

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')
_WS = " \t\r\n"
_CHUNK = 1 << 20


def first_record_keys(text: str) -> list[str] | None:
    """Top-level keys of the first record a head shows (the object itself, or the first element of a
    JSON list), in file order and as far as the head goes; None when it starts no object."""
    text = text.lstrip("\ufeff" + _WS)
    if text.startswith("{"):
        depth = 1
    elif text.startswith("[") and text[1:].lstrip(_WS).startswith("{"):
        depth = 2
    else:
        return None
    stack: list[str] = []
    keys: list[str] = []
    prev = ""
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            stack.append(tok)
        elif tok in "}]":
            if not stack:
                break
            stack.pop()
            if len(stack) < depth:
                break
        elif tok[0] == '"' and len(stack) == depth and stack[-1] == "{" and prev in ("{", ","):
            keys.append(json.loads(tok))
        prev = tok
    return keys


class _Buffer:
    """Decoded text of a file, read on demand in growing chunks; tracks line numbers."""

    def __init__(self, fh: Any):
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False
        self.line_base = 1  # line number of text[0]
        self.bytes_read = 0
        self._counted = (0, 1)  # (position, its line number): counting goes on from the last one asked

    def line_at(self, pos: int) -> int:
        start, line = self._counted if pos >= self._counted[0] else (0, self.line_base)
        line += self.text.count("\n", start, pos)
        self._counted = (pos, line)
        return line

    def more(self, size: int) -> None:
        raw = self.fh.read(size)
        try:
            chunk = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            line = self.line_at(len(self.text)) + raw[: exc.start].count(b"\n")
            raise AdapterError(f"invalid UTF-8 at byte {self.bytes_read + exc.start}", line=line) from None
        self.bytes_read += len(raw)
        self.eof = not raw
        if self.pos > len(self.text) // 2:  # drop what is already decoded, keep line numbers right
            self.line_base = self.line_at(self.pos)
            self.text = self.text[self.pos:]
            self.pos = 0
            self._counted = (0, self.line_base)
        self.text += chunk

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos] if self.pos < len(self.text) else ""
            self.more(_CHUNK)

    def value(self, decoder: json.JSONDecoder, record: int) -> Any:
        """Decode the JSON value at the cursor, reading more (doubling) until it is complete."""
        size = _CHUNK
        while True:
            try:
                obj, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    cut = " (truncated file?)" if exc.pos >= len(self.text) - 1 or "Unterminated" in exc.msg else ""
                    raise AdapterError(f"invalid JSON: {json_reason(exc)}{cut}", line=self.line_at(exc.pos),
                                       record=record) from None
                self.more(max(size, len(self.text)))
                size *= 2
                continue
            if end == len(self.text) and not self.eof:  # a number cut at the buffer end would parse
                self.more(size)
                continue
            self.pos = end
            return obj


@dataclass
class BadLine:
    """A JSONL line that is not JSON; the other lines are still read."""

    reason: str


def iter_lines(path: Path) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(line, record index, value)`` for each non-blank JSONL line; a line that does not parse
    is yielded as :class:`BadLine` (the other lines are still read)."""
    with open_trace(path) as fh:
        index = 0
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value: Any = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                value = BadLine(f"invalid UTF-8 at byte {exc.start} of the line")
            except ValueError as exc:
                cut = "" if raw.endswith(b"\n") else " (truncated line?)"
                value = BadLine(f"invalid JSON: {json_reason(exc)}{cut}")
            yield lineno, index, value
            index += 1
        if not index:
            raise AdapterError("empty file")


def iter_records(path: Path) -> Iterator[tuple[int | None, int, Any]]:
    """Yield ``(line, record index, value)`` for each record of a JSON list, JSONL file or single
    JSON object (line is the record's first line where known). A JSONL line that does not parse is
    yielded as :class:`BadLine`; broken JSON elsewhere raises AdapterError."""
    if trace_suffix(path) in (".jsonl", ".ndjson"):
        yield from iter_lines(path)
        return
    decoder = json.JSONDecoder()
    with open_trace(path) as fh:
        buf = _Buffer(fh)
        first = buf.peek()
        if not first:
            raise AdapterError("empty file")
        if first != "[":  # one object, or several concatenated (JSONL content in a .json file)
            index = 0
            while buf.peek():
                line = buf.line_at(buf.pos)
                yield line, index, buf.value(decoder, index)
                index += 1
            return
        buf.pos += 1
        index = 0
        while True:
            ch = buf.peek()
            if ch == "]":
                buf.pos += 1
                break
            if index:
                if ch != ",":
                    raise AdapterError("invalid JSON: expected ',' or ']' between records" if ch
                                       else "invalid JSON: the list is not closed (truncated file?)",
                                       line=buf.line_at(buf.pos), record=index)
                buf.pos += 1
                ch = buf.peek()
            if not ch:
                raise AdapterError("invalid JSON: the list is not closed (truncated file?)",
                                   line=buf.line_at(buf.pos), record=index)
            line = buf.line_at(buf.pos)
            yield line, index, buf.value(decoder, index)
            index += 1
        if buf.peek():
            raise AdapterError("invalid JSON: extra data after the list", line=buf.line_at(buf.pos))


def read_each(
    ctx: ReadContext, records: Iterable[tuple[int | None, int, Any]], build: Callable[[int | None, int, Any], T],
    what: str,
) -> Iterator[T]:
    """``build(line, index, record)`` for each record. ``build`` raises ValueError for a record of the
    wrong shape: on the first record that fails the file (it is not ``what``), later ones are
    reported as record issues while the rest are read."""
    for line, index, record in records:
        try:
            if isinstance(record, BadLine):
                raise AdapterError(record.reason, line=line, record=index)
            item = build(line, index, record)
        except AdapterError as exc:
            if index == 0:
                raise
            ctx.record_issue(exc.reason, line=exc.line, record=exc.record)
            continue
        except ValueError as exc:
            if index == 0:
                raise AdapterError(f"not {what}: {one_line(exc)}", line=line, record=index) from None
            ctx.record_issue(one_line(exc), line=line, record=index)
            continue
        yield item
