"""The one jinja environment of the report and the diff page, with the filters both use."""

from __future__ import annotations

import math
import shlex
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup


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


def pp(value: Any) -> str:
    """A difference of proportions in percentage points: ``-30.0 pp``."""
    return "–" if value is None else f"{100 * float(value):+.1f} pp"


def ppci(value: Any) -> str:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or None in value:
        return ""
    return f"[{100 * value[0]:+.1f}, {100 * value[1]:+.1f}]"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The templates of ``mastlens.report`` with every filter (the report's and the diff page's)."""
    env = Environment(
        loader=PackageLoader("mastlens.report", "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pct=pct, num=num, pval=pval, ci=ci, svg=svg, mean_sd=mean_sd, pp=pp, ppci=ppci,
                       shq=shlex.quote)  # shq: trace ids in a printed shell command
    return env
