"""The diff of two runs as a self-contained HTML page in the report's style (autoescaped, no script)."""

from __future__ import annotations

from typing import Any

from mastlens.report.context import as_dict
from mastlens.report.templating import environment
from mastlens.taxonomy import load_taxonomy


def render_diff_html(diff: Any, *, title: str | None = None, show_db: str | None = None) -> str:
    """A ``DiffResult`` (or its ``model_dump()``) as one HTML document. ``show_db``: the store to name in the
    printed ``mastlens show`` commands (None: the default store)."""
    from mastlens import __version__

    d = as_dict(diff) or {}
    return environment().get_template("diff.html.j2").render(
        diff=d, title=title or f"mastlens diff: {d.get('by')} {d.get('base')} → {d.get('new')}",
        mode_names={m.id: m.name for m in load_taxonomy().modes}, anchors={}, show_db=show_db,
        generated_by=f"mastlens {__version__}")
