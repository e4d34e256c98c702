"""Charts for the report: matplotlib figures rendered to inline SVG strings.

Text is kept as SVG ``<text>`` (``svg.fonttype = none``), which matplotlib XML-escapes; group names
come from trace data, so they go through :func:`_label` (shortened) and are never trusted as markup.
Element ids are prefixed per chart so several SVGs can live in one page.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
VERDICT_COLOURS = {"fatal": "#D55E00", "benign": "#0072B2", "neutral": "#7f7f7f", "insufficient": "#bbbbbb"}
# Sequential, light for rare and dark for frequent (prints well, safe for colour-vision deficiencies).
HEATMAP_CMAP = "YlGnBu"

_counter = itertools.count()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "font.family": "DejaVu Sans",
        "axes.spines.top": False, "axes.spines.right": False,
    })
    return plt


def _label(text: object, limit: int = 28) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def to_svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog), with ids unique to this chart."""
    plt = _plt()
    prefix = f"c{next(_counter)}-"
    plt.rcParams["svg.hashsalt"] = prefix
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg.replace("<svg ", '<svg role="img" class="chart" ', 1)


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def heatmap(
    matrix: Sequence[Sequence[float | None]], rows: Sequence[str], cols: Sequence[str], *, title: str,
    colorbar: str, vmin: float = 0.0, vmax: float = 1.0, fmt: str = "{:.0%}", cmap: str = HEATMAP_CMAP,
    notes: Sequence[Sequence[str | None]] | None = None,
) -> str:
    """A labelled heatmap; missing cells (None) are grey and printed as n/a, or as their ``notes`` text."""
    plt = _plt()
    import numpy as np

    data = np.array([[_nan(v) for v in row] for row in matrix], dtype=float).reshape(len(rows), len(cols))
    width = max(5.0, 0.55 * len(cols) + 2.5)
    height = max(1.6, 0.42 * len(rows) + 1.4)
    fig, ax = plt.subplots(figsize=(width, height))
    masked = np.ma.masked_invalid(data)
    colormap = plt.get_cmap(cmap).with_extremes(bad="#eeeeee")
    image = ax.imshow(masked, cmap=colormap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), [_label(c, 14) for c in cols], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    ax.spines[:].set_visible(False)
    span = (vmax - vmin) or 1.0
    for (i, j), value in np.ndenumerate(data):
        if math.isnan(value):
            note = notes[i][j] if notes is not None else None
            ax.text(j, i, note or "n/a", ha="center", va="center", fontsize=6 if note else 7, color="#666666")
            continue
        r, g, b, _ = colormap(min(1.0, max(0.0, (value - vmin) / span)))
        dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
        ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color="#ffffff" if dark else "#000000")
    ax.set_title(title, loc="left")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label=colorbar)
    return to_svg(fig)


def grouped_bars(
    series: dict[str, Sequence[float | None]], categories: Sequence[str], *, title: str, ylabel: str,
    percent: bool = True, errors: dict[str, Sequence[tuple[float, float] | None]] | None = None,
) -> str:
    """Bars per category, one colour per series (e.g. per group), optional CI whiskers."""
    plt = _plt()
    import numpy as np

    names = list(series)
    n = max(1, len(names))
    width = 0.8 / n
    x = np.arange(len(categories))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(categories) * max(1, n / 2) + 2), 2.8))
    for k, name in enumerate(names):
        values = [_nan(v) for v in series[name]]
        yerr = None
        if errors and name in errors:
            lo = [v - ci[0] if ci and not math.isnan(v) else 0 for v, ci in zip(values, errors[name])]
            hi = [ci[1] - v if ci and not math.isnan(v) else 0 for v, ci in zip(values, errors[name])]
            yerr = [np.clip(lo, 0, None), np.clip(hi, 0, None)]
        ax.bar(x + (k - (n - 1) / 2) * width, values, width, label=_label(name), yerr=yerr, capsize=2,
               color=PALETTE[k % len(PALETTE)], error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
    ax.set_xticks(x, [_label(c, 14) for c in categories])
    ax.set_ylabel(ylabel)
    if percent:
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title(title, loc="left")
    if n > 1:
        ax.legend(frameon=False, fontsize=8, ncols=min(n, 4), loc="upper left", bbox_to_anchor=(0, -0.12))
    return to_svg(fig)


def dumbbell(modes: list[dict[str, Any]], *, title: str) -> str:
    """Per mode: prevalence in successful (circle) vs failed (square) traces, coloured by verdict."""
    plt = _plt()
    ids = [m["id"] for m in modes]
    fig, ax = plt.subplots(figsize=(5.6, 0.26 * len(ids) + 1.2))
    for y, m in enumerate(modes):
        s, f = m.get("prevalence_success"), m.get("prevalence_failed")
        colour = VERDICT_COLOURS.get(m.get("verdict") or "", "#7f7f7f")
        if s is not None and f is not None:
            ax.plot([s, f], [y, y], color=colour, lw=2, alpha=0.7)
        if s is not None:
            ax.plot(s, y, "o", color=colour, mfc="white", ms=6)
        if f is not None:
            ax.plot(f, y, "s", color=colour, ms=6)
    ax.set_yticks(range(len(ids)), ids)
    ax.invert_yaxis()
    ax.set_xlim(-0.03, 1.03)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("prevalence (○ successful, ■ failed)")
    handles = [plt.Line2D([], [], color=c, lw=2, label=v) for v, c in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / (len(ids) + 4)),
              ncols=4)
    ax.set_title(title, loc="left")
    return to_svg(fig)


def interval_plot(rows: list[tuple[str, float | None, tuple[float, float] | None]], *, title: str,
                  xlabel: str, xlim: tuple[float, float] = (-1.0, 1.0)) -> str:
    """Point estimates with CI whiskers, one row per label (e.g. kappa per mode)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 0.26 * len(rows) + 1.2))
    for y, (_, value, ci) in enumerate(rows):
        if value is None:
            ax.text(xlim[0], y, " n/a", va="center", fontsize=7, color="#666666")
            continue
        if ci is not None:
            ax.plot([ci[0], ci[1]], [y, y], color=PALETTE[0], lw=1.5)
        ax.plot(value, y, "o", color=PALETTE[0], ms=5)
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_yticks(range(len(rows)), [_label(r[0], 20) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    return to_svg(fig)


def histogram_panels(histograms: dict[str, dict[str, int]], *, title: str, xlabel: str, unit: str = "") -> str:
    """One small bar chart per group of counts by number of modes (shares, so groups compare)."""
    plt = _plt()
    names = list(histograms)
    n = max(1, len(names))
    cols = min(n, 3)
    nrows = math.ceil(n / cols)
    top = max([int(k) for h in histograms.values() for k in h] + [1])
    fig, axes = plt.subplots(nrows, cols, figsize=(3.0 * cols, 2.1 * nrows), sharey=True, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        counts = histograms[names[k]]
        total = sum(counts.values()) or 1
        xs = list(range(top + 1))
        ax.bar(xs, [counts.get(str(x), 0) / total for x in xs], color=PALETTE[k % len(PALETTE)])
        size = f"{sum(counts.values())} {unit}" if unit else f"n={sum(counts.values())}"
        ax.set_title(f"{_label(names[k], 24)} ({size})", fontsize=8, loc="left")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(title, x=0.01, ha="left", fontsize=10)
    fig.tight_layout()
    return to_svg(fig)
