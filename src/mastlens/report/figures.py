"""The report's figures, built from the stats/agreement contract dicts."""

from __future__ import annotations

from typing import Any

from mastlens.report import charts


def _mode_field(group: dict[str, Any], mode_id: str, key: str) -> Any:
    for m in group.get("modes") or []:
        if m.get("id") == mode_id:
            return m.get(key)
    return None


def signature_heatmap(groups: list[dict[str, Any]], mode_ids: list[str]) -> str | None:
    if not groups:
        return None
    matrix = [[None if _mode_field(g, m, "too_few_assessed") else _mode_field(g, m, "prevalence") for m in mode_ids]
              for g in groups]
    notes = [[f"too few\n({_mode_field(g, m, 'n_assessed')})" if _mode_field(g, m, "too_few_assessed") else None
              for m in mode_ids] for g in groups]
    return charts.heatmap(matrix, [g["name"] for g in groups], mode_ids,
                          title="Failure signature: prevalence of each mode per group", colorbar="prevalence",
                          notes=notes)


def modes_histograms(groups: list[dict[str, Any]]) -> str | None:
    """Surgical vs cascading: how many distinct modes each failed trace carries, per group."""
    hists = {g["name"]: {str(k): int(v) for k, v in (g.get("modes_histogram_failed") or {}).items()}
             for g in groups}
    if not any(sum(h.values()) for h in hists.values()):
        return None
    return charts.histogram_panels(hists, title="Distinct modes per failed trace, share of each group's failed traces",
                                   xlabel="modes present", unit="failed")


def fatal_charts(groups: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for g in groups:
        modes = [m for m in g.get("modes") or []
                 if m.get("prevalence_success") is not None or m.get("prevalence_failed") is not None]
        if modes:
            out[g["name"]] = charts.dumbbell(modes, title=f"{charts._label(g['name'], 40)}: successful vs failed")
    return out


def category_chart(groups: list[dict[str, Any]], category_ids: list[str]) -> str | None:
    series: dict[str, list[float | None]] = {}
    errors: dict[str, list[tuple[float, float] | None]] = {}
    for g in groups:
        cats = {c["id"]: c for c in g.get("categories") or []}
        series[g["name"]] = [cats.get(c, {}).get("prevalence") for c in category_ids]
        errors[g["name"]] = [_ci(cats.get(c, {}).get("prevalence_ci")) for c in category_ids]
    if not any(v is not None for vals in series.values() for v in vals):
        return None
    return charts.grouped_bars(series, category_ids, title="Category roll-ups (any mode of the category)",
                               ylabel="prevalence", errors=errors)


def _ci(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and None not in value:
        return float(value[0]), float(value[1])
    return None


def pair_heatmaps(stats: dict[str, Any], mode_ids: list[str]) -> dict[str, dict[str, str]]:
    """Per group: the phi co-occurrence matrix and the first-onset (precedence) matrix."""
    out: dict[str, dict[str, str]] = {}
    index = {m: i for i, m in enumerate(mode_ids)}
    groups = [g["name"] for g in stats.get("groups") or []]
    for name in groups:
        phi: list[list[float | None]] = [[None] * len(mode_ids) for _ in mode_ids]
        for row in stats.get("cooccurrence") or []:
            if row.get("group") == name and row.get("a") in index and row.get("b") in index:
                i, j = index[row["a"]], index[row["b"]]
                phi[i][j] = row.get("phi")
                if phi[j][i] is None:
                    phi[j][i] = row.get("phi")
        first: list[list[float | None]] = [[None] * len(mode_ids) for _ in mode_ids]
        for row in stats.get("precedence") or []:
            if row.get("group") == name and row.get("first") in index and row.get("second") in index:
                first[index[row["first"]]][index[row["second"]]] = row.get("share_first")
                first[index[row["second"]]][index[row["first"]]] = row.get("share_second")
        charts_for_group = {}
        used = _used(phi)
        if used:
            ids = [mode_ids[i] for i in used]
            charts_for_group["cooccurrence"] = charts.heatmap(
                [[phi[i][j] for j in used] for i in used], ids, ids, vmin=-1, vmax=1, fmt="{:.2f}",
                title=f"{charts._label(name, 40)}: co-occurrence (phi)", colorbar="phi", cmap="PuOr_r")
        used = _used(first)
        if used:
            ids = [mode_ids[i] for i in used]
            charts_for_group["precedence"] = charts.heatmap(
                [[first[i][j] for j in used] for i in used], ids, ids,
                title=f"{charts._label(name, 40)}: row mode shows first (share of pairs)",
                colorbar="share where the row mode comes first")
        if charts_for_group:
            out[name] = charts_for_group
    return out


def _used(matrix: list[list[float | None]]) -> list[int]:
    n = len(matrix)
    return [i for i in range(n) if any(matrix[i][j] is not None or matrix[j][i] is not None for j in range(n))]


def agreement_chart(agreement: dict[str, Any]) -> str | None:
    rows = [(m["id"], m.get("kappa"), _ci(m.get("kappa_ci"))) for m in agreement.get("modes") or []]
    if not rows:
        return None
    return charts.interval_plot(rows, title=f"Cohen's kappa per mode ({agreement.get('b')} vs {agreement.get('a')})",
                                xlabel="kappa (95% bootstrap CI)")


def build_figures(stats: dict[str, Any], agreement: dict[str, Any] | None, mode_ids: list[str],
                  category_ids: list[str]) -> dict[str, Any]:
    groups = list(stats.get("groups") or [])
    return {
        "signature": signature_heatmap(groups, mode_ids),
        "histograms": modes_histograms(groups),
        "fatal": fatal_charts(groups),
        "categories": category_chart(groups, category_ids),
        "pairs": pair_heatmaps(stats, mode_ids),
        "agreement": agreement_chart(agreement) if agreement else None,
    }
