"""A compact Markdown summary (per-group table, top fatal modes, top interventions) for PR comments."""

from __future__ import annotations

import html
import re
from typing import Any

from mastlens.report.context import as_dict
from mastlens.report.templating import num, pct, pval
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy


def md_text(value: Any, limit: int = 80) -> str:
    """Trace-derived text made inert in Markdown tables (a PR comment renders HTML and links)."""
    s = " ".join(str(value).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = html.escape(s, quote=False)
    return re.sub(r"([\\`*_\[\]|#!])", r"\\\1", s)


def _unexplained(group: dict[str, Any]) -> dict[str, Any]:
    return group.get("unexplained") or {}


def _unexplained_cell(group: dict[str, Any]) -> str:
    if not group.get("n_failed"):
        return "–"
    n = _unexplained(group).get("n", 0)
    return f"**{n}** of {group['n_failed']}" if n else f"0 of {group['n_failed']}"


def _unexplained_section(groups: list[dict[str, Any]]) -> list[str]:
    """Failed runs with no present mode, per group, with the modes that were not assessed on them."""
    rows = [g for g in groups if _unexplained(g).get("n")]
    if not rows:
        return []
    lines = ["", "### Unexplained failures", "",
             "Failed runs in which no failure mode was found present: their cause is unknown, not absent.", ""]
    for g in rows:
        u = _unexplained(g)
        line = f"- **{md_text(g['name'])}**: {u['n']} of {g['n_failed']} failed runs"
        if u.get("trace_ids"):
            line += f" (e.g. {', '.join('`' + md_text(t, 60).replace('`', '') + '`' for t in u['trace_ids'][:3])})"
        if u.get("not_assessed"):
            line += "; not assessed on them: " + ", ".join(f"{m} on {k}" for m, k in u["not_assessed"].items())
        lines.append(line)
    return lines


def render_markdown(
    store: Store | None, set_name: str, stats: Any, *, agreement: Any = None, top: int = 5,
    report_path: str | None = None,
) -> str:
    """The Markdown summary. ``store`` is accepted for symmetry with ``render_html`` and may be None."""
    s = as_dict(stats) or {}
    ag = as_dict(agreement)
    names = {m.id: m.name for m in load_taxonomy().modes}
    groups = s.get("groups") or []
    lines = [f"## mastlens: MAST failure diagnosis ({md_text(set_name)})", ""]
    lines.append(f"Grouped by **{md_text(s.get('group_by', 'model'))}**, success rule `{s.get('success_rule', '')}`.")
    lines += ["", f"| {md_text(s.get('group_by', 'group'))} | traces | failed | success rate | mean score "
              "| modes / failed trace | unexplained failures | top fatal modes |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for g in groups:
        fatal = [m for m in g.get("modes") or [] if m.get("verdict") == "fatal"]
        fatal.sort(key=lambda m: -(m.get("delta_pp") or 0))
        rate = pct(g.get("success_rate"))
        if g.get("n_unknown_outcome"):
            rate += f" of {g['n'] - g['n_unknown_outcome']} known"
        lines.append(
            f"| {md_text(g['name'])} | {g.get('n')} | {g.get('n_failed')} | {rate} "
            f"| {num(g.get('mean_score'))} | {num(g.get('modes_per_failed_trace'))} "
            f"| {_unexplained_cell(g)} | {', '.join(m['id'] for m in fatal[:3]) or '–'} |"
        )
    separation = (s.get("separation") or [None])[0]
    if separation:
        from mastlens.analysis.fidelity import separation_sentence
        from mastlens.analysis.results import OutcomeSeparation

        lines += ["", separation_sentence(OutcomeSeparation.model_validate(separation))]
    if s.get("calibration"):
        from mastlens.analysis.results import CalibrationApplied

        lines += ["", "**" + md_text(CalibrationApplied.model_validate(s["calibration"]).describe(), 600) + "**"]
    if s.get("outcome_calls"):
        from mastlens.analysis.outcome_call import outcome_call_sentence
        from mastlens.analysis.results import OutcomeCall

        lines += ["", outcome_call_sentence(OutcomeCall.model_validate(s["outcome_calls"][0]))]
    if s.get("groups_by_source"):
        lines += ["", "No model recorded: runs grouped by their source (format/system/domain): "
                  + ", ".join(md_text(n) for n in s["groups_by_source"]) + "."]
    for g in groups:
        if g.get("stratified"):
            mixed = "; ".join(f"{md_text(x['source'])} {x['n']} runs, "
                              f"{pct(x['n_success'] / x['n'] if x['n'] else None)} successful" for x in g["sources"])
            lines += ["", f"{md_text(g['name'])} mixes sources whose outcomes differ ({mixed}): its modes' delta, "
                      "p and verdict are within sources (Mantel-Haenszel, Cochran-Mantel-Haenszel test)."]
    for g in groups:
        few = [m for m in g.get("modes") or [] if m.get("too_few_assessed")]
        if few:
            lines += ["", f"{md_text(g['name'])}: no prevalence, too few assessed: "
                      + ", ".join(f"{m['id']} too few assessed ({m.get('n_assessed', 0)})" for m in few) + "."]
    lines += _unexplained_section(groups)
    fatal_rows = [(g["name"], m) for g in groups for m in g.get("modes") or [] if m.get("verdict") == "fatal"]
    fatal_rows.sort(key=lambda r: -(r[1].get("delta_pp") or 0))
    lines += ["", "### Top fatal modes", ""]
    if fatal_rows:
        lines += ["| group | mode | failed | successful | delta (pp) | p (Holm) |", "|---|---|---:|---:|---:|---:|"]
        for name, m in fatal_rows[:top]:
            lines.append(
                f"| {md_text(name)} | {m['id']} {names.get(m['id'], '')} | {pct(m.get('prevalence_failed'))} "
                f"| {pct(m.get('prevalence_success'))} | {num(m.get('delta_pp'), 1)} | {pval(m.get('p_holm'))} |"
            )
    else:
        lines.append("No mode separates failed from successful traces with enough evidence.")
    recs = sorted(s.get("recommendations") or [], key=lambda r: -(r.get("score") or 0))
    lines += ["", "### Top interventions", ""]
    if recs:
        for i, r in enumerate(recs[:top], 1):
            lines.append(f"{i}. **{md_text(r.get('title') or r.get('intervention', ''), 160)}** "
                         f"({md_text(r.get('group', ''))}; {', '.join(r.get('modes') or [])})")
    else:
        n_unexplained = sum(_unexplained(g).get("n", 0) for g in groups)
        lines.append("No intervention comes out of the modes found."
                     + (f" **{n_unexplained} failed runs have no mode found present**, so their cause is unknown."
                        if n_unexplained else ""))
    if ag:
        micro = ag.get("micro") or {}
        lines += ["", f"Agreement with `{md_text(ag.get('a', ''))}` on {ag.get('n_traces')} traces: "
                  f"micro F1 {num(micro.get('f1'))}, kappa {num(micro.get('kappa'))}."]
        loc = ag.get("localization")
        if loc:
            lines.append(f"Where the {loc.get('n')} failed runs went wrong: decisive step exact {pct(loc.get('step_exact'))}, "
                         f"within ±1 {pct(loc.get('step_within_1'))}, within ±3 {pct(loc.get('step_within_3'))}; "
                         f"decisive agent {pct(loc.get('agent'))}; no step named {pct(loc.get('no_step'))}.")
    if report_path:
        lines += ["", f"Full report: `{md_text(report_path, 200)}`"]
    return "\n".join(lines) + "\n"
