"""Render the self-contained HTML report (inline CSS, SVG and a small script; no network)."""

from __future__ import annotations

import base64
import hashlib
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from mastlens.report.context import ReportContext, build_context
from mastlens.report.figures import build_figures
from mastlens.store import Store

# The drill-down stays within the size budget (about 15 MB for 1,000 traces) by cutting step
# contents; this caps how many traces get one at all (failed traces first).
DEFAULT_MAX_TRACES = 1000


def pct(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value))):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}f}"


def mean_sd(mean: Any, sd: Any) -> str:
    """``mean ± sd``; just the mean when there is no sd (a single trace), one dash when there is no mean."""
    if mean is None:
        return "–"
    return num(mean) if sd is None else f"{num(mean)} ± {num(sd)}"


def pval(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def ci(value: Any, kind: str = "pct", missing: str = "–") -> str:
    """``[low, high]``; ``missing`` when there is no interval (pass "" where the interval follows its value)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 or None in value:
        return missing
    fmt = pct if kind == "pct" else num
    return f"[{fmt(value[0])}, {fmt(value[1])}]"


def svg(chart: str | None) -> Markup | str:
    """Mark one of our own matplotlib SVGs as markup (never used on trace text)."""
    return Markup(chart) if chart else ""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mastlens.report", "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pct=pct, num=num, pval=pval, ci=ci, svg=svg, mean_sd=mean_sd)
    return env


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
    max_traces: int | None = DEFAULT_MAX_TRACES, charts: bool = True, diff: Any = None,
) -> str:
    """The whole report as one HTML document.

    ``stats`` is a ``StatsResult`` (or its ``model_dump()``), ``agreement`` an optional
    ``AgreementResult``, ``diff`` an optional ``DiffResult`` (a Diff section); trace drill-downs come from ``store``.
    """
    ctx = build_context(store, set_name, stats, agreement=agreement, title=title, max_traces=max_traces)
    if diff is not None:
        from mastlens.report.context import as_dict
        from mastlens.report.diff_html import diff_environment

        diff_environment()  # its filters
        ctx.diff = as_dict(diff)
    if charts:
        ctx.charts = build_figures(ctx.stats, ctx.agreement, ctx.taxonomy.ids, [c.id for c in ctx.taxonomy.categories])
    return render_context(ctx)
