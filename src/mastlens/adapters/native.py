"""Native mastlens JSON: the normalized :class:`~mastlens.trace.Trace` model itself.

``mastlens show --json`` writes a JSON list of traces; one trace per line in a ``.jsonl``
works as well. Reading it back is lossless.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from mastlens.adapters.base import (
    Adapter, AdapterError, ReadContext, first_json_line, head_text, iter_jsonl, load_json, trace_suffix,
)
from mastlens.adapters.jsonstream import first_record_keys
from mastlens.trace import Trace

def _looks_native(obj: object) -> bool:
    return isinstance(obj, dict) and {"id", "source", "steps"} <= obj.keys() and isinstance(obj["source"], dict) \
        and "format" in obj["source"]


def _validate(obj: object, *, line: int | None = None, record: int | None = None) -> Trace:
    try:
        return Trace.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AdapterError(f"not a mastlens trace: {where}: {first['msg']}", line=line, record=record) from None


class NativeAdapter(Adapter):
    name = "native"
    description = "mastlens' own normalized trace JSON (what `mastlens show --json` prints)"
    detects = "objects with id, source{format} and steps; a JSON list of them or one per JSONL line"
    outcome = 'the trace\'s "outcome" {success, score, metrics, success_from}, as `show --json` prints it'
    priority = 10

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if trace_suffix(path) in (".jsonl", ".ndjson") or not text.startswith("["):
            obj = first_json_line(head)
            if obj is not None:
                return _looks_native(obj)
        # a first record longer than the head: its keys in order (id, source, ..., steps, outcome)
        return {"id", "source", "steps"} <= set(first_record_keys(text) or []) and '"format"' in text[:4000]

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        for trace in self._read(path):
            # A stored verdict (the source's flag or a rule's) is kept as written, so the round trip is
            # lossless; a trace with a score and no verdict gets one from the success rule, and a rule
            # given with --success decides as it does for every format.
            if trace.outcome.success is None or ctx.success_rule.explicit:
                trace.outcome = ctx.success_rule.apply(trace.outcome)
            yield trace

    def _read(self, path: Path) -> Iterator[Trace]:
        if trace_suffix(path) in (".jsonl", ".ndjson"):
            for lineno, obj in iter_jsonl(path):
                yield _validate(obj, line=lineno)
            return
        data = load_json(path)
        items = data if isinstance(data, list) else [data]
        for i, obj in enumerate(items):
            yield _validate(obj, record=i)


ADAPTER = NativeAdapter()
