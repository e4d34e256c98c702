"""Render the self-contained HTML report (inline CSS, SVG and a small script; no network)."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

from markupsafe import Markup

from mastlens.report.context import ReportContext, as_dict, build_context
from mastlens.report.figures import build_figures
from mastlens.report.templating import ci, environment, mean_sd, num, pct, pval, svg  # noqa: F401 - re-exported
from mastlens.store import Store

# The drill-down stays within the size budget (about 15 MB for 1,000 traces) by cutting step
# contents; this caps how many traces get one at all (failed traces first).
DEFAULT_MAX_TRACES = 1000


@lru_cache(maxsize=1)
def page_script() -> tuple[str, str]:
    """Our inline script and its CSP hash: the page allows that script and no other (defence in depth
    should escaping ever fail, inline handlers and injected scripts would still be refused)."""
    text = resources.files("mastlens.report").joinpath("templates/script.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, f"'sha256-{digest}'"


def render_context(ctx: ReportContext) -> str:
    script, script_hash = page_script()
    return environment().get_template("report.html.j2").render(
        ctx=ctx, stats=ctx.stats, card=ctx.card, script=Markup(script), script_hash=script_hash)


def render_html(
    store: Store, set_name: str, stats: Any, *, agreement: Any = None, title: str | None = None,
    max_traces: int | None = DEFAULT_MAX_TRACES, charts: bool = True, diff: Any = None, calibration: Any = None,
) -> str:
    """The whole report as one HTML document.

    ``stats`` is a ``StatsResult`` (or its ``model_dump()``), ``agreement`` an optional
    ``AgreementResult``, ``diff`` an optional ``DiffResult`` (a Diff section), ``calibration`` the
    ``Calibration`` applied (its thresholds and agreement before/after on the reliability card); trace
    drill-downs come from ``store``.
    """
    ctx = build_context(store, set_name, stats, agreement=agreement, title=title, max_traces=max_traces)
    ctx.calibration = as_dict(calibration)
    if diff is not None:
        ctx.diff = as_dict(diff)
    if charts:
        ctx.charts = build_figures(ctx.stats, ctx.agreement, ctx.taxonomy.ids, [c.id for c in ctx.taxonomy.categories])
    return render_context(ctx)
