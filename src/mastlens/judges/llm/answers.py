"""Reading one yes/no answer out of a fragment of judge text, by its value.

Field names are never answers: in ``present: false`` the answer is ``false``, in ``status: absent`` it is
``absent``. A fragment whose answer cannot be read gives ``None`` and the caller reports it as a problem.
"""

from __future__ import annotations

import re

_POSITIVE = ("yes", "y", "true", "present", "detected", "observed", "found", "exhibited", "occurred")
_NEGATIVE = ("no", "n", "false", "absent", "not present", "not detected", "not observed", "not found",
             "not exhibited", "did not occur")
_WORDS = {**{w: True for w in _POSITIVE}, **{w: False for w in _NEGATIVE}}
_MARKS = {"✅": True, "✔": True, "✓": True, "☑": True, "❌": False, "✗": False, "✘": False, "❎": False}
# words that are field names as often as answers: "present: <value>" reads the value
_FIELD_LIKE = {"present", "absent", "detected", "observed", "found"}
_NEGATED_KEYS = {"absent", "not present", "not detected", "missing"}
# free-text fields: their content is never an answer ("evidence: no evidence of ...")
_TEXT_KEYS = {"evidence", "reason", "reasoning", "explanation", "justification", "rationale", "quote", "quotes",
              "note", "notes", "comment", "comments", "details", "summary", "analysis", "description", "why"}

_ANSWER = "|".join(sorted((re.escape(w) for w in _WORDS), key=len, reverse=True)).replace(r"\ ", r"\s+")
_LEADING = re.compile(
    rf"""^(?P<word>{_ANSWER})\b
        (?!\s*(?:/|or)\s*(?:{_ANSWER})\b)      # "yes or no" / "yes/no" echoes the template: no answer
        (?=\s*(?:$|[-–—(,.;:!]|\s-\s))""",
    re.IGNORECASE | re.VERBOSE,
)
_KEY = re.compile(r"""(?:^|(?<=[,;{(]))\s*["']?(?P<key>[A-Za-z][A-Za-z_ ?-]{0,30}?)["']?\s*[:=]\s*""")
_DECOR = re.compile(r"[*`]+")
_WRAP = " \t\"'[]{}.,;_"


def _clean(text: str) -> str:
    text = _DECOR.sub("", text).strip(_WRAP)
    for mark in _MARKS:
        if text.startswith(mark):
            rest = text[len(mark):].strip(_WRAP + ":-")
            return rest or mark
    return text


def _key_name(key: str) -> str:
    return " ".join(key.lower().replace("_", " ").replace("-", " ").replace("?", " ").split())


def leading_answer(fragment: str) -> bool | None:
    """The answer a fragment starts with ("No - the agent...", "**Yes**", "✅ Present"), or None."""
    text = _clean(fragment)
    if text in _MARKS:
        return _MARKS[text]
    m = _LEADING.match(text)
    return None if m is None else _WORDS[" ".join(m.group("word").lower().split())]


def exact_answer(cell: str) -> bool | None:
    """The answer when a whole fragment (e.g. a table cell) is one, else None."""
    text = _clean(cell)
    if text in _MARKS:
        return _MARKS[text]
    return _WORDS.get(" ".join(text.lower().split()))


def read_answer(fragment: str) -> tuple[bool | None, str | None]:
    """``(answer, problem)`` for the text after a mode's label.

    Key/value shapes (``present: false``, ``"present": false``, ``present = no``, ``status: absent``) are read
    by their value; otherwise the fragment must start with an answer. Conflicting values are a problem.
    """
    text = _DECOR.sub("", fragment).strip().lstrip(":=|-–—>→{[").strip()
    if not text:
        return None, "no answer"
    pairs = keyed_pairs(text)
    found: list[bool] = []
    for key, value in pairs:
        name = _key_name(key)
        if name in _TEXT_KEYS:
            break
        answer = leading_answer(value)
        if answer is None:
            continue
        found.append(not answer if name in _NEGATED_KEYS else answer)
    if found:
        if len(set(found)) > 1:
            return None, f"conflicting answers in {fragment.strip()!r}"
        return found[0], None
    if pairs and _key_name(pairs[0][0]) in _FIELD_LIKE:
        return None, f"no readable value for {pairs[0][0].strip()!r} in {fragment.strip()!r}"
    answer = leading_answer(text)
    if answer is None:
        return None, f"no yes/no answer in {_shorten(fragment)!r}"
    return answer, None


def keyed_pairs(text: str) -> list[tuple[str, str]]:
    """``[(key, value), ...]`` when the text starts with a ``key: value`` (or ``key = value``) shape."""
    text = _DECOR.sub("", text).strip().lstrip("{[").strip()
    keys = list(_KEY.finditer(text))
    if not keys or keys[0].start() != 0:
        return []
    out = []
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
        out.append((m.group("key"), text[m.end():end].strip().rstrip(",;})")))
    return out


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
