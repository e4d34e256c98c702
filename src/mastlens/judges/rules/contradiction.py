"""A write whose own result contradicts what it asked for, then reported as done.

An API write (``update_*``, ``book_*``, ...) that answers with the changed record lets anyone check its
effect: each scalar argument that names a top-level field of that record should come back with the value
asked for. When the record says otherwise (asked ``"cabin": "economy"``, the record still says ``"business"``)
and the agent's next words claim success without acknowledging the difference, the agent declared victory
on evidence that does not support it (FM-3.3).
"""

from __future__ import annotations

import json
from typing import Any

from mastlens.judges.rules.commands import changes, self_confirming
from mastlens.judges.rules.view import Call, TraceView

_SCALARS = (str, int, float, bool)


def _same(asked: Any, returned: Any) -> bool:
    if isinstance(asked, str) and isinstance(returned, str):
        return asked.strip().lower() == returned.strip().lower()
    if isinstance(asked, (int, float)) and isinstance(returned, (int, float)) and not isinstance(asked, bool):
        return float(asked) == float(returned)
    return asked == returned


def contradicted_fields(call: Call, max_chars: int) -> list[tuple[str, Any, Any]]:
    """(field, asked, returned) for scalar arguments of an API write that its returned record (a JSON
    object, read only when at most ``max_chars`` long) gives back with another value."""
    args = call.step.arguments
    if not isinstance(args, dict) or not args or not self_confirming(call):
        return []
    if len(call.output) > max_chars or not any(ch.kind == "api" for ch in changes(call)):
        return []
    try:
        record = json.loads(call.output)
    except ValueError:
        return []
    if not isinstance(record, dict):
        return []
    out = []
    for key, asked in args.items():
        returned = record.get(key)
        if isinstance(asked, _SCALARS) and isinstance(returned, _SCALARS) and not _same(asked, returned):
            out.append((key, asked, returned))
    return out


def contradicted_calls(view: TraceView) -> tuple[list[tuple[Call, list[tuple[str, Any, Any]]]], int]:
    """(API writes whose returned record contradicts their arguments, with the fields; the number of API
    writes whose result returns a record at all: the precondition, writes whose effect can be read)."""
    found = []
    readable = 0
    for call in view.calls:
        if call.result is None or call.failed or not call.tool or not self_confirming(call):
            continue
        if not any(ch.kind == "api" for ch in changes(call)):
            continue
        readable += 1
        fields = contradicted_fields(call, view.config.contradiction_max_chars)
        if fields:
            found.append((call, fields))
    return found, readable
