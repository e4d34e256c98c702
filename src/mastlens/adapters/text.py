"""Plain text fallback: one step per blank-line separated block (only with ``--format text``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, open_trace
from mastlens.trace import Source, Step, StepKind, Trace


class TextAdapter(Adapter):
    name = "text"
    description = "plain text logs, one step per blank-line separated block"
    detects = "never auto-detected; use --format text (reads .txt and .log in folder walks)"
    outcome = "none: plain text records no result (success unknown)"
    priority = 99
    extensions = (".txt", ".log", ".md")

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        with open_trace(path) as fh:
            raw = fh.read()
        if b"\x00" in raw[:8192]:
            raise AdapterError("binary file, not text")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AdapterError(f"invalid UTF-8 at byte {exc.start}", line=raw[: exc.start].count(b"\n") + 1) from None
        blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
        if not blocks:
            raise AdapterError("empty file")
        steps = [Step(index=i, kind=StepKind.EVENT, content=b) for i, b in enumerate(blocks)]
        yield Trace(id=path.name, source=Source(format=self.name, path=str(path)), steps=steps)


ADAPTER = TextAdapter()
