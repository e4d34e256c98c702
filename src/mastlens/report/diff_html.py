"""The diff of two runs as a self-contained HTML page in the report's style (autoescaped, no script)."""

from __future__ import annotations

import shlex
from typing import Any

from jinja2 import Environment

from mastlens.report.context import as_dict
from mastlens.report.html import environment
from mastlens.taxonomy import load_taxonomy


def pp(value: Any) -> str:
    """A difference of proportions in percentage points: ``-30.0 pp``."""
    return "–" if value is None else f"{100 * float(value):+.1f} pp"


def ppci(value: Any) -> str:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or None in value:
        return ""
    return f"[{100 * value[0]:+.1f}, {100 * value[1]:+.1f}]"


def diff_environment() -> Environment:
    """The report's template environment with the diff's filters (added once)."""
    env = environment()
    env.filters.setdefault("pp", pp)
    env.filters.setdefault("ppci", ppci)
    env.filters.setdefault("shq", shlex.quote)  # trace ids in a printed shell command
    return env


def render_diff_html(diff: Any, *, title: str | None = None, show_db: str | None = None) -> str:
    """A ``DiffResult`` (or its ``model_dump()``) as one HTML document. ``show_db``: the store to name in the
    printed ``mastlens show`` commands (None: the default store)."""
    from mastlens import __version__

    d = as_dict(diff) or {}
    return diff_environment().get_template("diff.html.j2").render(
        diff=d, title=title or f"mastlens diff: {d.get('by')} {d.get('base')} → {d.get('new')}",
        mode_names={m.id: m.name for m in load_taxonomy().modes}, anchors={}, show_db=show_db,
        generated_by=f"mastlens {__version__}")
