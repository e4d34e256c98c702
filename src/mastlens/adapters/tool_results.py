"""Whether a tool result reports a failure in its own content.

Many exports carry a failed tool call only as the tool message the agent loop handed back to the model: a JSON
object such as ``{"error": "..."}`` / ``{"ok": false, ...}``, or text such as ``Error: ...`` or a Python
traceback. A tool span with status ERROR says the same thing in another place; readers mark both alike
(``metadata["is_error"] = True``).
"""

from __future__ import annotations

import json
import re

_ERROR_KEYS = ("error", "errors", "error_message", "exception")
_BESIDE_ERROR = {"status", "code", "message", "type", "details"}
# "Error: ...", "ERROR - ...", "Exception: ...", "Traceback (most recent call last):"; "errors found: 0" is not one
_ERROR_TEXT = re.compile(r"^\s*(?:(?:error|exception|fatal)\b\s*[:\-]|traceback \(most recent call last\))",
                         re.IGNORECASE)


def _json_or_none(text: str) -> object:
    """``text`` parsed as JSON, or None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def error_shaped(content: str) -> bool:
    """A JSON result that reports a failure in its structure: ``ok`` / ``success`` false, ``is_error`` /
    ``isError`` true, or a non-empty error field with no data beside it. A JSON-encoded string is unwrapped once."""
    text = content.strip()
    if text.startswith('"'):
        inner = _json_or_none(text)
        if not isinstance(inner, str):
            return False
        text = inner.strip()
    if not text.startswith("{"):
        return False
    value = _json_or_none(text)
    if not isinstance(value, dict):
        return False
    if value.get("ok") is False or value.get("success") is False:
        return True
    if value.get("is_error") is True or value.get("isError") is True:
        return True
    errors = [k for k in _ERROR_KEYS if value.get(k)]
    return bool(errors) and set(value) <= set(_ERROR_KEYS) | _BESIDE_ERROR


def reports_error(content: str) -> bool:
    """A tool result whose content says the call failed: error-shaped JSON or an error line first."""
    return error_shaped(content) or bool(_ERROR_TEXT.match(content[:200]))
